"""10,000 links end to end on the real API server: the table is exact and every shard in budget.

The links are created through the API with a few concurrent requests (as a GitOps controller
would), then the test waits for the table to hold exactly them and for each to report Ready, and
removes them again so later tests plan over a small index.
"""

import asyncio
import time

import pytest

from shortlink_localcluster import bulk
from shortlink_localcluster.stack import Stack
from shortlink_operator.planning import DEFAULT_SHARD_BUDGET
from tests.cluster.helpers import Cluster, eventually, follow

COUNT = 10_000


def assert_table_exact(cluster: Cluster, stack: Stack, prefix: str) -> dict[str, dict[str, str]]:
    shards = asyncio.run(bulk.table(cluster.control_plane, stack.namespace))
    mine = {s: e for s, e in bulk.routes(shards).items() if e["namespace"] == cluster.namespace}
    assert len(mine) == COUNT
    for i in (0, COUNT // 2, COUNT - 1):
        assert mine[f"{prefix}-{i}"]["url"] == bulk.bulk_url(prefix, i)
    assert all(
        entry["url"] == bulk.bulk_url(prefix, int(slug.rsplit("-", 1)[1]))
        for slug, entry in mine.items()
    )
    return shards


def assert_all_ready(cluster: Cluster) -> None:
    ready = asyncio.run(bulk.readiness(cluster.control_plane, cluster.namespace))
    assert ready.reasons == {"Published": COUNT}


@pytest.mark.timeout(1800)
def test_ten_thousand_links_are_published_exactly_and_every_shard_stays_in_budget(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    prefix = f"s{unique}"
    started = time.monotonic()
    try:
        asyncio.run(
            bulk.create_links(cluster.control_plane, cluster.namespace, COUNT, prefix=prefix)
        )
        created = time.monotonic()
        shards = eventually(
            lambda: assert_table_exact(cluster, stack, prefix), timeout=600, interval=2
        )
        # Generous: this asserts the outcome; how fast is `make bench-scale`'s to say.
        eventually(lambda: assert_all_ready(cluster), timeout=600, interval=2)
        ready = time.monotonic() - created
        print(f"created in {created - started:.0f} s, all Ready {ready:.0f} s later")
        for name, data in shards.items():
            assert len(data["routes.json"].encode()) <= DEFAULT_SHARD_BUDGET, name
        assert follow(stack, f"{prefix}-1234") == (302, bulk.bulk_url(prefix, 1234))
    finally:
        asyncio.run(bulk.delete_links(cluster.control_plane, cluster.namespace))

    def gone() -> None:
        routes = bulk.routes(asyncio.run(bulk.table(cluster.control_plane, stack.namespace)))
        assert not any(e["namespace"] == cluster.namespace for e in routes.values())

    eventually(gone, timeout=120, interval=1)
