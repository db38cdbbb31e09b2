"""The cluster tier: a real kube-apiserver and etcd on 127.0.0.1, started once per session.

The operator and a redirector run as real processes against it (the `stack` fixture), exactly as
`make run` starts them. Each test works in namespaces of its own and uses slugs of its own, so
tests do not see each other's links.

External mode: with `SHORTLINK_TEST_KUBECONFIG=<kubeconfig>` the tier runs against that existing
cluster instead (`shortlink_localcluster.external`; `make test-external`). The CRDs are applied
there server-side, the operator and redirector still run as processes here, in a system namespace
of their own (`shortlink-tests-<random>`), and every namespace the tests create is deleted when
they are done; nothing of the cluster's is stopped. No other shortlink operator may be running on
that cluster meanwhile: two operators would both write the links' statuses. The tests marked
`local_control_plane("<reason>")` are deselected there, each printed with its reason (stopping or
restarting the API server, compacting etcd: what only a control plane these tests started allows).
"""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlink_localcluster.access import ClusterAccess
from shortlink_localcluster.external import ExternalCluster
from shortlink_localcluster.stack import (
    SYSTEM_NAMESPACE,
    Stack,
    install_crds,
    kubectl,
    started_control_plane,
)
from tests.cluster.helpers import Cluster

#: Resync every 2 s (to show drift repair quickly) and hold a deleted owner's slug for 3 s.
OPERATOR_ARGS = ("--resync-seconds", "2", "--slug-grace-seconds", "3")


#: Names the kubeconfig of an existing cluster to run this tier against (external mode).
EXTERNAL_KUBECONFIG = "SHORTLINK_TEST_KUBECONFIG"

#: How external mode prints each deselected test (followed by "<node id>: <reason>").
LOCAL_ONLY_LINE = "  local only: "

#: The marker of a test that needs a control plane these tests started; its one argument says why.
LOCAL_ONLY_MARKER = "local_control_plane"


def external_kubeconfig() -> Path | None:
    value = os.environ.get(EXTERNAL_KUBECONFIG)
    return Path(value) if value else None


def local_only_reason(item: pytest.Item) -> str | None:
    """Why `item` cannot run against an external cluster, or None if it can.

    The reason is required: a bare marker would deselect a test without saying why."""
    marker = item.get_closest_marker(LOCAL_ONLY_MARKER)
    if marker is None:
        return None
    reason = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{LOCAL_ONLY_MARKER} takes one argument, the reason "
            "the test cannot run against an external cluster"
        )
    return reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons: dict[str, str] = {}
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)
        reason = local_only_reason(item)
        if reason is not None:
            reasons[item.nodeid] = reason
    source = external_kubeconfig()
    if source is None:
        return
    local = [item for item in items if item.nodeid in reasons]
    items[:] = [item for item in items if item.nodeid not in reasons]
    config.hook.pytest_deselected(items=local)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"external cluster ({EXTERNAL_KUBECONFIG}={source}): deselected {len(local)} "
            f"{LOCAL_ONLY_MARKER} test(s), which need a control plane these tests started:"
        )
        for item in local:
            # tests/node/test_cluster_tier.py reads these lines: "local only: <node id>: <why>".
            reporter.write_line(f"{LOCAL_ONLY_LINE}{item.nodeid}: {reasons[item.nodeid]}")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterAccess]:
    """A local control plane, or in external mode the cluster of `SHORTLINK_TEST_KUBECONFIG`."""
    source = external_kubeconfig()
    if source is None:
        with started_control_plane(tmp_path_factory.mktemp("control-plane")) as control_plane:
            yield control_plane
        return
    external = ExternalCluster(source=source, workdir=tmp_path_factory.mktemp("external"))
    external.connect()
    install_crds(external)
    yield external


@pytest.fixture(scope="session")
def stack(control_plane: ClusterAccess) -> Iterator[Stack]:
    """The operator (with `OPERATOR_ARGS`) and one redirector."""
    external = external_kubeconfig() is not None
    stack = Stack(
        control_plane,
        # On an external cluster, stay clear of an installed release's `shortlink-system`.
        namespace=f"shortlink-tests-{secrets.token_hex(3)}" if external else SYSTEM_NAMESPACE,
        operator_args=OPERATOR_ARGS,
        redirector_args=("--country-header", "CF-IPCountry"),
    )
    stack.start()
    yield stack
    stack.stop()
    delete_external_namespaces(control_plane, [stack.namespace])


@pytest.fixture
def cluster(control_plane: ClusterAccess, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """kubectl and helpers, in a fresh namespace named after the test."""
    cluster = Cluster(control_plane, prefix=request.node.name)
    yield cluster
    delete_external_namespaces(control_plane, cluster.namespaces)
    delete_external_objects(control_plane, cluster.cluster_scoped)


def delete_external_namespaces(control_plane: ClusterAccess, names: list[str]) -> None:
    """On an external cluster, delete namespaces the tests created (without waiting: links carry
    no finalizer, so the cluster's namespace controller finishes it). A local control plane is
    thrown away whole."""
    if external_kubeconfig() is not None:
        kubectl(control_plane, "delete", "namespace", "--wait=false", "--ignore-not-found", *names)


def delete_external_objects(control_plane: ClusterAccess, objects: list[str]) -> None:
    """On an external cluster, delete cluster-scoped objects ("<resource>/<name>") a test made."""
    if external_kubeconfig() is not None and objects:
        kubectl(control_plane, "delete", "--wait=false", "--ignore-not-found", *objects)


@pytest.fixture
def unique() -> str:
    """A suffix that keeps this test's slugs apart from every other test's."""
    return secrets.token_hex(3)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On a failed cluster test, show the last lines of the logs of its stacks' operator and
    redirector (the session's `stack`, and any other a test runs, such as `prober`)."""
    report = yield
    stacks = [
        (name, value)
        for name, value in (getattr(item, "funcargs", None) or {}).items()
        if isinstance(value, Stack)
    ]
    if call.when == "call" and getattr(report, "failed", False):
        for fixture, stack in stacks:
            for process in (stack.operator, stack.redirector):
                if process is not None:
                    title = f"{process.name} log ({fixture})"
                    report.sections.append((title, process.log_tail(60)))  # type: ignore[attr-defined]
    return report
