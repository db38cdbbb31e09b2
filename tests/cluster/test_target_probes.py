"""Target probes on the real API server: an operator with `--probe-targets` probes a real HTTP
server on 127.0.0.1 that answers 200, 404, 503, 405 to HEAD, a redirect, and not at all, and each
ShortLink gets its `TargetReachable` condition while `Ready` and serving stay as they were.

The server is loopback, which the prober refuses by default (`tests/unit/test_http_probe.py`
shows it), so this operator runs with `--probe-private-addresses`: that flag is what makes
probing 127.0.0.1 possible at all.

A probing operator is an operator: it publishes and writes the status of every link it can see,
and probes each one's target. So it must be the only operator on its cluster. On a local control
plane this module has a control plane of its own: the links other tests leave in the session's
cluster (example.com and the like) are never probed, and every request goes to the server on
127.0.0.1. On an external cluster (`SHORTLINK_TEST_KUBECONFIG`) it uses that cluster and stops the
session's operator while it runs (`sole_operator`), starting it again after; the prober then also
probes whatever other links that cluster holds (on the node tier's node: only the tests' own).
"""

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shortlink_localcluster.access import ClusterAccess
from shortlink_localcluster.stack import Stack, started_control_plane
from shortlink_operator.prober import SEEN_GRACE_SECONDS
from tests.cluster.conftest import delete_external_namespaces, external_kubeconfig
from tests.cluster.helpers import Cluster, eventually, served, shortlink
from tests.probe_targets import TargetServer, target_server

PROBE_ARGS = (
    "--probe-targets",
    "--probe-private-addresses",  # the targets are on 127.0.0.1: refused without it
    "--probe-interval-seconds",
    "1",
    "--probe-timeout-seconds",
    "1",
    "--probe-rate",
    "50",
)

#: Path on the target server → (status, reason) of the condition.
EXPECTED = {
    "/ok": ("True", "HTTP200"),
    "/moved": ("True", "HTTP302"),
    "/no-head": ("True", "HTTP200"),
    "/missing": ("False", "HTTP404"),
    "/broken": ("False", "HTTP503"),
    "/slow": ("False", "Timeout"),
}


@pytest.fixture(scope="module")
def probed_cluster(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ClusterAccess]:
    """This module's own control plane, or the external cluster (see the module docstring)."""
    if external_kubeconfig() is not None:
        session: ClusterAccess = request.getfixturevalue("control_plane")
        yield session
        return
    with started_control_plane(tmp_path_factory.mktemp("probe-control-plane")) as control_plane:
        yield control_plane


@pytest.fixture(scope="module")
def sole_operator(request: pytest.FixtureRequest) -> Iterator[None]:
    """On an external cluster, the session's operator stopped while the prober runs: two
    operators would both write every link's status."""
    if external_kubeconfig() is None:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    assert stack.operator is not None
    stack.operator.stop()
    try:
        yield
    finally:
        stack.start_operator()


@pytest.fixture
def cluster(probed_cluster: ClusterAccess, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """As the tier's `cluster`, on `probed_cluster`."""
    cluster = Cluster(probed_cluster, prefix=request.node.name)
    yield cluster
    delete_external_namespaces(probed_cluster, cluster.namespaces)


@pytest.fixture(scope="module")
def targets() -> Iterator[TargetServer]:
    with target_server() as server:
        yield server


@pytest.fixture(scope="module")
def prober(
    probed_cluster: ClusterAccess, sole_operator: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """An operator that probes (and a redirector), with a table namespace of their own."""
    stack = Stack(
        probed_cluster,
        namespace=f"probes-{secrets.token_hex(3)}",
        operator_args=PROBE_ARGS,
        log_dir=tmp_path_factory.mktemp("probes"),
    )
    stack.start()
    yield stack
    stack.stop()
    delete_external_namespaces(probed_cluster, [stack.namespace])


def condition(cluster: Cluster, name: str, kind: str) -> dict[str, Any]:
    status = cluster.get("shortlink", name).get("status") or {}
    for each in status.get("conditions") or []:
        if each["type"] == kind:
            return dict(each)
    return {}


def reachable(cluster: Cluster, name: str, status: str, reason: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        found = condition(cluster, name, "TargetReachable")
        assert (found.get("status"), found.get("reason")) == (status, reason), found
        return found

    # A condition the prober writes just before the publisher's first status write may be lost
    # to that write (a merge patch of the conditions it saw); the prober writes it again once it
    # has not come back within SEEN_GRACE_SECONDS. A slow API server (the node's, on a busy
    # machine) makes that race common.
    return eventually(check, timeout=SEEN_GRACE_SECONDS + 30)


def name_of(path: str) -> str:
    return "t" + path.replace("/", "-")


def test_each_link_gets_its_targets_answer_and_stays_served(
    cluster: Cluster, prober: Stack, targets: TargetServer, unique: str
) -> None:
    for path in EXPECTED:
        link = shortlink(name_of(path), targets.url(path), slug=f"{name_of(path)}-{unique}")
        cluster.apply(link)
    ready_before = {}
    for path in EXPECTED:
        ready_before[path] = cluster.wait_reason(name_of(path), "Published")
        served(prober, f"{name_of(path)}-{unique}", targets.url(path))
    for path, (status, reason) in EXPECTED.items():
        found = reachable(cluster, name_of(path), status, reason)
        assert found["observedGeneration"] == 1
        assert found["lastTransitionTime"]
        assert targets.url(path) in found["message"]
    # Probing never touches Ready, nor whether the link is served.
    for path in EXPECTED:
        assert condition(cluster, name_of(path), "Ready") == ready_before[path]
        served(prober, f"{name_of(path)}-{unique}", targets.url(path))
    # HEAD first, GET only where HEAD was refused; the redirect was never followed.
    assert targets.requests[("GET", "/no-head")] >= 1
    assert targets.requests[("GET", "/ok")] == 0
    assert targets.requests[("GET", "/moved")] == 0
    assert not [path for _, path in targets.requests if path.startswith("/latest")]


def test_an_unchanged_answer_does_not_rewrite_the_status(
    cluster: Cluster, prober: Stack, targets: TargetServer, unique: str
) -> None:
    cluster.apply(shortlink("steady", targets.url("/ok?steady"), slug=f"steady-{unique}"))
    # Two writers settle first: the prober's condition and the publisher's Ready, in either order.
    cluster.wait_reason("steady", "Published")
    reachable(cluster, "steady", "True", "HTTP200")
    version = cluster.get("shortlink", "steady")["metadata"]["resourceVersion"]
    seen = targets.requests[("HEAD", "/ok")]

    def probed_three_more_times() -> None:
        assert targets.requests[("HEAD", "/ok")] >= seen + 3

    eventually(probed_three_more_times, timeout=30)
    assert cluster.get("shortlink", "steady")["metadata"]["resourceVersion"] == version


def test_a_new_answer_flips_the_condition_and_a_ready_write_keeps_it(
    cluster: Cluster, prober: Stack, targets: TargetServer, unique: str
) -> None:
    slug = f"flip-{unique}"
    cluster.apply(shortlink("flip", targets.url("/missing"), slug=slug))
    first = reachable(cluster, "flip", "False", "HTTP404")
    cluster.apply(shortlink("flip", targets.url("/ok"), slug=slug))
    now = reachable(cluster, "flip", "True", "HTTP200")
    assert now["observedGeneration"] == 2
    assert now["lastTransitionTime"] >= first["lastTransitionTime"]
    served(prober, slug, targets.url("/ok"))
    # The publisher writes Ready (a merge patch of the whole list): TargetReachable stays.
    cluster.apply(shortlink("flip", targets.url("/ok"), slug=slug, suspended=True))
    cluster.wait_reason("flip", "Suspended")
    kept = condition(cluster, "flip", "TargetReachable")
    assert (kept["status"], kept["reason"]) == ("True", "HTTP200")


def test_the_operator_counts_links_by_target_state(
    cluster: Cluster, prober: Stack, targets: TargetServer, unique: str
) -> None:
    cluster.apply(shortlink("counted", targets.url("/broken?counted"), slug=f"counted-{unique}"))
    reachable(cluster, "counted", "False", "HTTP503")

    def counted() -> None:
        text = httpx.get(prober.operator_metrics_url, timeout=2).text
        states = {
            sample.labels["state"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "shortlink_operator_targets"
        }
        assert states.keys() == {"reachable", "unreachable", "unknown"}
        assert states["unreachable"] >= 1
        since = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "shortlink_operator_target_unreachable_since_timestamp_seconds"
        ]
        assert since
        assert since[0] > 0

    eventually(counted, timeout=30)
