"""The observability tier: a real Prometheus scraping a real redirector and operator.

The control plane is this tier's own (the `control_plane` fixture of the cluster tier, imported
here, is instantiated once per directory), so the operator's counts of links by reason see only
the links these tests create.
"""

import secrets
from collections.abc import Iterator

import pytest

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack
from tests.cluster.conftest import control_plane
from tests.prometheus.server import Prometheus

__all__ = ["control_plane"]

#: Not-found answers the observed redirector gives one client network before 429.
NOT_FOUND_BURST = 500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/prometheus/" in str(item.path):
            item.add_marker(pytest.mark.prometheus)


#: A small shard budget (the operator exports it as the capacity the alert divides by); no grace
#: period, so deleted links leave their shard at once.
SHARD_BUDGET = 8192
OPERATOR_ARGS = ("--shard-budget-bytes", str(SHARD_BUDGET), "--slug-grace-seconds", "0")


@pytest.fixture(scope="session")
def observed_stack(control_plane: ControlPlane) -> Iterator[Stack]:
    stack = Stack(
        control_plane,
        namespace=f"shortlink-obs-{secrets.token_hex(3)}",
        # Fewer than the test's unknown slugs, refilled too slowly to matter while they are sent:
        # the rest are answered 429 and counted as limited.
        redirector_args=(
            "--not-found-burst",
            str(NOT_FOUND_BURST),
            "--not-found-per-second",
            "0.01",
        ),
        operator_args=OPERATOR_ARGS,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def prometheus(
    observed_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    host = observed_stack.host
    server = Prometheus(
        tmp_path_factory.mktemp("prometheus"),
        jobs={
            "shortlink-redirector": [f"{host}:{observed_stack.metrics_port}"],
            "shortlink-operator": [f"{host}:{observed_stack.operator_metrics_port}"],
        },
    )
    yield server
    server.stop()
