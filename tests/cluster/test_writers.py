"""Two operator processes at once, as during a rolling update: one writer, the table stays exact.

The second operator starts while the first runs, stands by (the first holds the writer Lease),
takes over when the first stops, and hands back when it stops in turn. After every step the table
holds exactly the links of this test, each served and Ready.
"""

import asyncio
from collections.abc import Iterator

import pytest

from shortlink_localcluster import bulk
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack
from tests.cluster.conftest import OPERATOR_ARGS
from tests.cluster.helpers import Cluster, eventually, served


@pytest.fixture
def second_operator(control_plane: ControlPlane, stack: Stack) -> Iterator[Stack]:
    other = Stack(control_plane, namespace=stack.namespace, operator_args=OPERATOR_ARGS)
    other.start_operator()
    yield other
    other.stop()


def assert_exact(cluster: Cluster, stack: Stack, prefix: str, count: int) -> None:
    mine = {
        slug: entry
        for slug, entry in bulk.routes(
            asyncio.run(bulk.table(cluster.control_plane, stack.namespace))
        ).items()
        if entry["namespace"] == cluster.namespace
    }
    # When each link last changed is the API server's time of the create (tests/cluster/test_links).
    assert all(entry.pop("changed") > 0 for entry in mine.values())
    assert mine == {
        f"{prefix}-{i}": {
            "url": bulk.bulk_url(prefix, i),
            "slug": f"{prefix}-{i}",
            "namespace": cluster.namespace,
            "name": f"{prefix}-{i}",
        }
        for i in range(count)
    }
    ready = asyncio.run(bulk.readiness(cluster.control_plane, cluster.namespace))
    assert ready.reasons == {"Published": count}


def test_two_operators_at_once_keep_the_table_exact(
    cluster: Cluster, stack: Stack, second_operator: Stack, unique: str
) -> None:
    prefix = f"roll-{unique}"
    asyncio.run(bulk.create_links(cluster.control_plane, cluster.namespace, 100, prefix=prefix))
    eventually(lambda: assert_exact(cluster, stack, prefix, 100), timeout=60, interval=0.5)

    # The first operator goes (a rollout's old pod): the standby takes over and publishes.
    assert stack.operator is not None
    stack.operator.stop()
    asyncio.run(bulk.create_links(cluster.control_plane, cluster.namespace, 150, prefix=prefix))
    eventually(lambda: assert_exact(cluster, stack, prefix, 150), timeout=60, interval=0.5)
    served(stack, f"{prefix}-149", bulk.bulk_url(prefix, 149))

    # The first comes back while the second runs, then the second goes: the first writes again.
    stack.start_operator()
    second_operator.stop()
    asyncio.run(bulk.create_links(cluster.control_plane, cluster.namespace, 200, prefix=prefix))
    eventually(lambda: assert_exact(cluster, stack, prefix, 200), timeout=60, interval=0.5)
