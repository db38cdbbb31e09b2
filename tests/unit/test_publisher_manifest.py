"""The publisher writes the manifest last, and repairs drift it sees through its table watch.

Against `FakeKube` (see `test_publisher`): every write is recorded in order, and watch events are
fed to the publisher by hand, as `drift.follow_table` would.
"""

import dataclasses
from collections.abc import Mapping

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.table import decode_manifest, shard_digest
from shortlink_operator.kube import Shard, TableEvent
from shortlink_operator.link_index import index_link
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.publisher import Inputs, Publisher
from tests.unit.test_planning import obj
from tests.unit.test_publisher import CONFIG, FakeKube, publisher_of

FOUR_SHARDS = dataclasses.replace(CONFIG, shard_count=4)


class RecordingKube(FakeKube):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.lists = 0

    async def list_shards(self) -> dict[str, Shard]:
        self.lists += 1
        return await super().list_shards()

    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        self.writes.append(name)
        return await super().create_shard(name, data)

    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        self.writes.append(shard.name)
        return await super().update_shard(shard, data)

    async def delete_shard(self, shard: Shard) -> None:
        self.writes.append(shard.name)
        await super().delete_shard(shard)


def links(*slugs: str) -> Inputs:
    return Inputs(links=[index_link(obj(s, f"https://e.com/{s}")) for s in slugs])


def assert_manifest_lists_the_shards(kube: FakeKube) -> None:
    shards = {name: s.data for name, s in kube.shards.items() if name != MANIFEST_NAME}
    listing = decode_manifest(kube.shards[MANIFEST_NAME].data)
    assert listing == {name: shard_digest(data) for name, data in shards.items()}


async def test_the_manifest_is_written_after_every_shard_it_lists() -> None:
    kube = RecordingKube()
    publisher = publisher_of(kube, FOUR_SHARDS)
    await publisher.publish(links(*(f"l{i}" for i in range(12))))
    assert len(kube.writes) >= 3
    assert kube.writes[-1] == MANIFEST_NAME
    assert kube.writes.count(MANIFEST_NAME) == 1
    assert_manifest_lists_the_shards(kube)

    kube.writes.clear()
    await publisher.publish(links(*(f"l{i}" for i in range(11)), "other"))
    assert kube.writes[-1] == MANIFEST_NAME
    assert kube.writes.count(MANIFEST_NAME) == 1
    assert_manifest_lists_the_shards(kube)

    kube.writes.clear()
    await publisher.publish(links())  # every shard deleted first, then an empty listing
    assert kube.writes[-1] == MANIFEST_NAME
    assert set(kube.shards) == {MANIFEST_NAME}
    assert decode_manifest(kube.shards[MANIFEST_NAME].data) == {}


async def test_an_unchanged_table_writes_no_manifest() -> None:
    kube = RecordingKube()
    publisher = publisher_of(kube, FOUR_SHARDS)
    await publisher.publish(links("a", "b"))
    kube.writes.clear()
    await publisher.publish(links("a", "b"))
    assert kube.writes == []


async def test_own_writes_coming_back_are_not_drift_and_a_hand_deletion_is() -> None:
    kube = RecordingKube()
    metrics = OperatorMetrics()
    publisher = Publisher(kube=kube, config=FOUR_SHARDS, metrics=metrics)
    await publisher.publish(links("a", "b", "c"))
    repairs = metrics.table_repairs  # the metrics passed in, not the API client's
    for shard in kube.shards.values():  # the watch reports every write of the pass
        publisher.table_changed(TableEvent("ADDED", shard.name, shard.resource_version))
    assert repairs._value.get() == 0
    lists = kube.lists

    victim = next(name for name in kube.shards if name != MANIFEST_NAME)
    before = kube.shards.pop(victim)
    publisher.table_changed(TableEvent("DELETED", victim, kube.bump()))
    assert repairs._value.get() == 1
    await publisher.publish(links("a", "b", "c"))  # the pass the repair asked for
    assert kube.lists == lists + 1  # it read the table again instead of trusting its memory
    assert kube.shards[victim].data == before.data
    assert_manifest_lists_the_shards(kube)
