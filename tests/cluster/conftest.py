"""The cluster tier: a real kube-apiserver and etcd on 127.0.0.1, started once per session.

The operator and a redirector run as real processes against it (the `stack` fixture), exactly as
`make run` starts them. Each test works in namespaces of its own and uses slugs of its own, so
tests do not see each other's links.
"""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import REPO, Stack, install_crds
from tests.cluster.helpers import Cluster

#: Resync every 2 s (to show drift repair quickly) and hold a deleted owner's slug for 3 s.
OPERATOR_ARGS = ("--resync-seconds", "2", "--slug-grace-seconds", "3")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)


@contextlib.contextmanager
def started_control_plane(workdir: Path) -> Iterator[ControlPlane]:
    """A control plane with the CRDs installed, stopped on exit."""
    cache = Path(os.environ.get("SHORTLINK_CACHE", REPO / ".cache"))
    control_plane = ControlPlane(workdir=workdir, kube_apiserver=ensure_kube_apiserver(cache))
    control_plane.start()
    try:
        install_crds(control_plane)
        yield control_plane
    finally:
        control_plane.stop()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with started_control_plane(tmp_path_factory.mktemp("control-plane")) as control_plane:
        yield control_plane


@pytest.fixture(scope="session")
def stack(control_plane: ControlPlane) -> Iterator[Stack]:
    """The operator (with `OPERATOR_ARGS`) and one redirector."""
    stack = Stack(
        control_plane,
        operator_args=OPERATOR_ARGS,
        redirector_args=("--country-header", "CF-IPCountry"),
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def cluster(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Cluster:
    """kubectl and helpers, in a fresh namespace named after the test."""
    return Cluster(control_plane, prefix=request.node.name)


@pytest.fixture
def unique() -> str:
    """A suffix that keeps this test's slugs apart from every other test's."""
    return secrets.token_hex(3)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On a failed cluster test, show the last lines of the operator's and redirector's logs."""
    report = yield
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if call.when == "call" and getattr(report, "failed", False) and isinstance(stack, Stack):
        for process in (stack.operator, stack.redirector):
            if process is not None:
                report.sections.append((f"{process.name} log", process.log_tail(60)))  # type: ignore[attr-defined]
    return report
