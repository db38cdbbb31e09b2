"""The writer against an in-memory API: a 409 between read and write, and the writer Lease.

`FakeKube` keeps objects with resourceVersions and answers a stale one with `Conflict`, as the API
server does, so the exact interleaving of two writers can be forced deterministically here; the
cluster tier runs two real operator processes against the real API server.

Time is the event loop's, fast-forwarded by `looptime`: a test that waits 10 s waits no real time,
and everything the publisher would do in those 10 s has happened when it resumes. So "nothing was
written while standing by" is a fact about those 10 s, not a guess after a real sleep.
"""

import asyncio
import gc
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from shortlink_core.matching import routing_key
from shortlink_core.table import decode_shard, shard_index, shard_name
from shortlink_operator import executor, incremental
from shortlink_operator.config import OperatorConfig
from shortlink_operator.kube import Conflict, Kube, Lease, Listing, NotFound, Refused, Shard
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import Indexes, index_link
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.publisher import Inputs, Publisher
from tests.unit.test_planning import obj

pytestmark = pytest.mark.looptime


class FakeKube(Kube):
    def __init__(self) -> None:
        super().__init__(namespace="shortlink-system")
        self.shards: dict[str, Shard] = {}
        self.lease: Lease | None = None
        self.statuses: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.rejected = 0
        self.lease_reads = 0
        self._version = 0
        #: Runs just before a shard update is applied: where a test lets another writer in.
        self.before_update: Callable[[str], None] = lambda name: None

    def bump(self) -> str:
        self._version += 1
        return str(self._version)

    async def list_shards(self) -> dict[str, Shard]:
        return dict(self.shards)

    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        if name in self.shards:
            raise Conflict(name)
        self.shards[name] = Shard(name, self.bump(), dict(data))
        return self.shards[name]

    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        self.before_update(shard.name)
        if self.shards[shard.name].resource_version != shard.resource_version:
            self.rejected += 1
            raise Conflict(shard.name)
        self.shards[shard.name] = Shard(shard.name, self.bump(), dict(data))
        return self.shards[shard.name]

    async def delete_shard(self, shard: Shard) -> None:
        self.shards.pop(shard.name, None)

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.statuses[(namespace, name)] = status

    async def post_event(self, **event: Any) -> None:
        pass

    async def read_lease(self, name: str) -> Lease:
        self.lease_reads += 1
        if self.lease is None:
            raise NotFound(name)
        return self.lease

    async def create_lease(self, name: str, *, holder: str, duration: int, now: str) -> Lease:
        if self.lease is not None:
            raise Conflict(name)
        self.lease = Lease(name, self.bump(), holder, duration, now)
        return self.lease

    async def write_lease(
        self, lease: Lease, *, holder: str | None, duration: int, now: str, acquired: bool
    ) -> Lease:
        assert self.lease is not None
        if self.lease.resource_version != lease.resource_version:
            raise Conflict(lease.name)
        self.lease = Lease(lease.name, self.bump(), holder, duration, now)
        return self.lease


def routes(kube: FakeKube) -> dict[str, str]:
    return {r.slug: r.link.url for s in kube.shards.values() for r in decode_shard(s.data).routes}


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    """Let the publisher run until `check` holds (at most `within` seconds of loop time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() >= deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.01)


def publisher_of(kube: Kube, config: "OperatorConfig", **parts: Any) -> Publisher:
    """A publisher with metrics of its own (each test reads a fresh registry)."""
    return Publisher(kube=kube, config=config, metrics=OperatorMetrics(), **parts)


CONFIG = OperatorConfig(
    namespace="shortlink-system",
    public_base_url="https://go.example",
    shard_count=1,
    debounce_seconds=0,
    slug_grace_seconds=0,
)


async def test_a_shard_written_between_read_and_write_is_re_read_never_overwritten() -> None:
    kube = FakeKube()
    publisher = publisher_of(kube, CONFIG)
    links = [index_link(obj("a", "https://e.com/a"))]
    publisher.request(lambda: Inputs(links=list(links)))
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: routes(kube) == {"a": "https://e.com/a"})

        def intrude(name: str) -> None:  # another writer gets in after our read, once
            kube.before_update = lambda name: None
            current = kube.shards[name]
            data = {**current.data, "routes.json": current.data["routes.json"].replace("/a", "/x")}
            kube.shards[name] = Shard(name, kube.bump(), data)

        kube.before_update = intrude
        links.append(index_link(obj("b", "https://e.com/b")))
        publisher.request(lambda: Inputs(links=list(links)))
        await eventually(lambda: routes(kube) == {"a": "https://e.com/a", "b": "https://e.com/b"})
        assert kube.rejected == 1  # our stale write was refused, then re-planned from a re-read
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_only_the_lease_holder_publishes_and_a_standby_takes_over() -> None:
    kube = FakeKube()
    clock = [0.0]

    def leader(identity: str) -> Leadership:
        return Leadership(
            kube=kube,
            name="l",
            identity=identity,
            duration=15,
            clock=lambda: "T",
            monotonic=lambda: clock[0],
        )

    first, second = leader("first"), leader("second")
    assert await first.ensure()
    assert not await second.ensure()
    clock[0] = 10.0  # first renews within the duration: second still waits
    assert await first.ensure()
    assert not await second.ensure()
    clock[0] = 26.0  # first stalls for longer than the Lease lasts
    assert await second.ensure()
    assert not await first.ensure()  # the stalled one finds the Lease taken and stands by
    await second.release()
    assert await first.ensure()  # a released Lease is taken at once


async def test_a_standby_publisher_writes_nothing_until_the_lease_is_handed_over() -> None:
    kube = FakeKube()
    loop_time = asyncio.get_running_loop().time

    def lease(identity: str) -> Leadership:
        return Leadership(
            kube=kube, name="l", identity=identity, duration=15, clock=lambda: "T",
            monotonic=loop_time,
        )  # fmt: skip

    holder = lease("other")
    assert await holder.ensure()
    publisher = publisher_of(kube, CONFIG, leadership=lease("me"))
    publisher.request(lambda: Inputs(links=[index_link(obj("a", "https://e.com/a"))]))
    reads = kube.lease_reads
    task = asyncio.create_task(publisher.run())
    try:
        # 12 s of loop time, within the Lease's 15: the standby looked at the Lease at 0, 5 and
        # 10 s (every renew interval), and wrote nothing all along.
        await asyncio.sleep(12)
        assert kube.lease_reads - reads == 3
        assert (kube.shards, kube.statuses) == ({}, {})
        await holder.release()
        # Taken over at the next look, one renew interval (5 s) later at most.
        await eventually(lambda: routes(kube) == {"a": "https://e.com/a"}, within=5.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class SlowStatusKube(FakeKube):
    """Status writes take a while, as thousands of them do; Events are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        #: How many statuses were written when a shard first held the route of "late".
        self.statuses_when_late_was_routed: int | None = None

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await asyncio.sleep(0.01)
        await super().patch_status(namespace, name, status)

    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        if self.statuses_when_late_was_routed is None and "/late" in str(data):
            self.statuses_when_late_was_routed = len(self.statuses)
        return await super().update_shard(shard, data)

    async def post_event(self, **event: Any) -> None:
        self.events.append((event["name"], event["reason"]))


async def test_a_change_is_published_without_waiting_for_a_long_status_backlog() -> None:
    kube = SlowStatusKube()
    publisher = publisher_of(kube, CONFIG)
    # 400 statuses at 16 at a time and 10 ms each: a quarter of a second of writes.
    links = [index_link(obj(f"ok{i}", f"https://e.com/{i}")) for i in range(200)]
    links += [index_link(obj(f"bad{i}", "ftp://e.com/")) for i in range(200)]
    publisher.request(lambda: Inputs(links=list(links)))
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: len(kube.statuses) > 20)
        links.append(index_link(obj("late", "https://e.com/late")))
        publisher.request(lambda: Inputs(links=list(links)))
        await eventually(lambda: len(kube.statuses) == len(links) and len(kube.events) >= 200)
        # One more whole pass over the same links: a duplicate Event would be posted by now.
        passes = publisher.last_success
        publisher.request(lambda: Inputs(links=list(links)))
        await eventually(lambda: publisher.last_success != passes)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert kube.statuses_when_late_was_routed is not None
    assert kube.statuses_when_late_was_routed < 300  # it did not wait for the backlog
    # Every invalid link got its Warning once, whichever pass wrote its status.
    assert sorted(kube.events) == sorted((f"bad{i}", "InvalidSpec") for i in range(200))


class RefusingKube(FakeKube):
    """Refuses every write of the shards in `refuse`, as an admission webhook or a 422 would."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__()
        self.refuse = refuse

    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        if name in self.refuse:
            raise Refused(f"{name} denied", 422)
        return await super().create_shard(name, data)

    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        if shard.name in self.refuse:
            raise Refused(f"{shard.name} denied", 422)
        return await super().update_shard(shard, data)


async def test_a_refused_shard_blocks_neither_the_other_shards_nor_their_statuses() -> None:
    config = replace(CONFIG, shard_count=2)
    names = [f"l{i}" for i in range(12)]
    shard_of = {n: shard_name(shard_index(routing_key("", n), 2)) for n in names}
    blocked = shard_of[names[0]]
    kube = RefusingKube({blocked})
    publisher = publisher_of(kube, config)
    links = [index_link(obj(n, f"https://e.com/{n}")) for n in names]
    publisher.request(lambda: Inputs(links=list(links)))
    task = asyncio.create_task(publisher.run())
    free = {n for n in names if shard_of[n] != blocked}
    assert free
    assert free != set(names)
    try:
        await eventually(lambda: set(routes(kube)) == free)
        await eventually(lambda: {key[1] for key in kube.statuses} == free)
        assert publisher.refused_shards == {blocked}
        # A change in the free shard is published at once, whatever the refused one does.
        late = next(f"x{i}" for i in range(99) if shard_name(shard_index(f"/x{i}", 2)) != blocked)
        links.append(index_link(obj(late, "https://e.com/late")))
        publisher.request(lambda: Inputs(links=list(links)))
        await eventually(lambda: late in routes(kube) and ("team", late) in kube.statuses)
        # Once the API server takes the shard again, the retry writes it and its statuses.
        kube.refuse.clear()
        await eventually(lambda: set(routes(kube)) == {*names, late})
        await eventually(lambda: len(kube.statuses) == len(names) + 1)
        assert publisher.refused_shards == set()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class ListingKube(FakeKube):
    """Answers LISTs from `links`: the cluster as it is, whatever the watch said."""

    def __init__(self, links: list[dict[str, Any]]) -> None:
        super().__init__()
        self.links = links
        self.version = 100

    async def list_shortlinks(self) -> Listing:
        return Listing(list(self.links), self.version)

    async def list_policies(self) -> Listing:
        return Listing([], self.version)

    async def list_namespaces(self) -> Listing:
        return Listing([], self.version)

    async def list_objects(self, version: str, plural: str) -> Listing:
        return Listing([], self.version)

    async def list_present(self, version: str, plural: str) -> tuple[set[tuple[str, str]], int]:
        if plural != "shortlinks":
            return set(), self.version
        return {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.links}, (
            self.version
        )


async def test_a_link_deleted_while_the_watch_was_away_leaves_the_table_at_the_resync() -> None:
    def versioned(name: str) -> dict[str, Any]:
        body = obj(name, f"https://e.com/{name}")
        body["metadata"]["resourceVersion"] = "50"
        return body

    kube = ListingKube([versioned("a"), versioned("b")])
    indexes = Indexes()
    publisher = publisher_of(kube, CONFIG, indexes=indexes)
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: set(routes(kube)) == {"a", "b"})
        # "b" is deleted and no DELETED event ever comes (a watch gap).
        kube.links, kube.version = kube.links[:1], 120
        await asyncio.sleep(CONFIG.resync_seconds - 1)
        assert set(routes(kube)) == {"a", "b"}  # nothing tells the operator before the resync
        await eventually(lambda: set(routes(kube)) == {"a"}, within=2)
        assert [link.name for link in indexes.links.snapshot()] == ["a"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_pass_plans_with_the_cyclic_collector_paused_and_turns_it_back_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A plan's garbage is acyclic; walking the whole heap during it cost a fifth of a pass.
    seen: list[bool] = []
    real = incremental.Planner.plan

    def plan(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(incremental.Planner, "plan", plan)
    kube = FakeKube()
    passes = executor.PassExecutor(
        kube=kube,
        config=CONFIG,
        metrics=OperatorMetrics(),
        wake=lambda: None,
    )
    assert gc.isenabled()
    await passes.run([index_link(obj("a", "https://e.com/a"))])
    await passes.statuses_written()
    assert seen == [False]
    assert gc.isenabled()
    assert routes(kube) == {"a": "https://e.com/a"}


class SlowTableKube(FakeKube):
    """Each shard write takes 10 s: a pass over a big table on a busy machine."""

    async def update_shard(self, shard: Shard, data: Mapping[str, str]) -> Shard:
        await asyncio.sleep(10)
        return await super().update_shard(shard, data)

    async def create_shard(self, name: str, data: Mapping[str, str]) -> Shard:
        await asyncio.sleep(10)
        return await super().create_shard(name, data)


async def test_a_pass_longer_than_the_lease_keeps_it_and_its_statuses_are_written() -> None:
    kube = SlowTableKube()
    leadership = Leadership(
        kube=kube, name="l", identity="me", duration=15, clock=lambda: "T",
        monotonic=asyncio.get_running_loop().time,
    )  # fmt: skip
    config = replace(CONFIG, shard_count=4)
    publisher = publisher_of(kube, config, leadership=leadership)
    links = [index_link(obj(f"l{i}", f"https://e.com/{i}")) for i in range(40)]
    publisher.request(lambda: Inputs(links=links))
    task = asyncio.create_task(publisher.run())
    try:
        # Four shards and the manifest, 10 s each, four at a time: a first pass of 20 s or more.
        for _ in range(25):
            await asyncio.sleep(1)
            assert leadership.holding
        await eventually(lambda: len(kube.statuses) == 40, within=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class HeldStatusKube(FakeKube):
    """Status writes wait until `release` is set: a backlog the status writer has not reached."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await self.release.wait()
        await super().patch_status(namespace, name, status)


async def test_links_are_counted_by_the_status_a_pass_decided_before_it_is_written() -> None:
    # The metric is refreshed only by passes, and a status written later starts none: counted
    # by the statuses written, a bulk create's links stayed `Unknown` until the next resync.
    kube = HeldStatusKube()
    metrics = OperatorMetrics()
    publisher = Publisher(kube=kube, config=CONFIG, metrics=metrics)
    first = obj("first", "https://e.com/1", slug="go", created="2026-01-01T00:00:00Z")
    second = obj("second", "https://e.com/2", slug="go", created="2026-01-02T00:00:00Z")
    publisher.request(lambda: Inputs(links=[index_link(first), index_link(second)]))
    task = asyncio.create_task(publisher.run())

    def count(reason: str) -> float | None:
        return metrics.registry.get_sample_value("shortlink_operator_links", {"reason": reason})

    try:
        await eventually(lambda: publisher.last_success is not None)
        assert not kube.statuses
        assert (count("Published"), count("SlugConflict")) == (1, 1)
        assert not count("Unknown")
        kube.release.set()
        await eventually(lambda: len(kube.statuses) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
