"""Statuses written beside the passes (`status_writer`): latest wins, Events follow their status,
the table goes first, only the Lease holder writes, failures are tried again; and a pass over
thousands of links returns without waiting for their statuses.

Time is the event loop's, fast-forwarded by `looptime`: a status write that "takes" a second
takes no real time, and the order of what happened is exact.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from shortlink_core.table import decode_shard, shard_name
from shortlink_operator.executor import PassExecutor
from shortlink_operator.kube import Throttled
from shortlink_operator.link_index import index_link
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.planning import Event
from shortlink_operator.status_writer import StatusWriter
from tests.unit.test_planning import obj
from tests.unit.test_publisher import CONFIG, FakeKube

pytestmark = pytest.mark.looptime

KEY = ("team", "a")


def event(reason: str, cause: tuple[str, str] = KEY) -> Event:
    return Event(
        namespace=cause[0],
        name=cause[1],
        uid="u",
        type="Normal",
        reason=reason,
        message=reason,
        cause=cause,
    )


class LoggingKube(FakeKube):
    """Records every status write and Event in one log, in order; writes take `delay` seconds,
    and the first `failures` writes fail."""

    def __init__(self, *, delay: float = 0.0, failures: int = 0) -> None:
        super().__init__()
        self.delay = delay
        self.failures = failures
        self.log: list[tuple[str, Any]] = []
        self.patches: list[tuple[tuple[str, str], Mapping[str, Any]]] = []

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise Throttled("slow down", 2)
        self.patches.append(((namespace, name), status))
        self.log.append(("status", (name, dict(status))))
        await super().patch_status(namespace, name, status)

    async def post_event(self, **fields: Any) -> None:
        self.log.append(("event", (fields["name"], fields["reason"])))


def writer_of(kube: LoggingKube, **parts: Any) -> tuple[StatusWriter, dict[Any, Any]]:
    written: dict[Any, Any] = {}

    async def post(e: Event) -> None:
        await kube.post_event(name=e.name, reason=e.reason)

    writer = StatusWriter(
        kube=kube,
        concurrency=parts.pop("concurrency", 4),
        post_event=post,
        written=written.__setitem__,
        **parts,
    )
    return writer, written


async def test_a_status_offered_again_before_it_is_written_replaces_it_and_both_events_follow() -> (
    None
):
    kube = LoggingKube()
    writer, written = writer_of(kube)
    await writer.hold(())  # a pass writes the table: nothing is written meanwhile
    writer.offer({KEY: {"observedGeneration": 1, "slug": "a", "resolvedURL": None}}, [event("One")])
    writer.offer({KEY: {"observedGeneration": 2, "slug": "b"}}, [event("Two")])
    assert writer.pending(KEY) == {"observedGeneration": 2, "slug": "b", "resolvedURL": None}
    await asyncio.sleep(1)
    assert kube.log == []
    writer.release()
    await writer.drained()
    # One write of both patches merged (the removal of resolvedURL kept), then both Events.
    merged = {"observedGeneration": 2, "slug": "b", "resolvedURL": None}
    assert kube.log == [("status", ("a", merged)), ("event", ("a", "One")), ("event", ("a", "Two"))]
    assert written == {KEY: merged}
    assert writer.pending(KEY) is None


async def test_a_status_of_an_older_generation_never_replaces_a_newer_one() -> None:
    kube = LoggingKube()
    writer, _ = writer_of(kube)
    await writer.hold(())
    writer.offer({KEY: {"observedGeneration": 3, "slug": "new"}})
    writer.offer({KEY: {"observedGeneration": 2, "slug": "old"}})
    writer.release()
    await writer.drained()
    assert kube.patches == [(KEY, {"observedGeneration": 3, "slug": "new"})]


async def test_an_event_whose_link_keeps_its_status_is_posted_on_its_own() -> None:
    kube = LoggingKube()
    writer, _ = writer_of(kube)
    writer.offer({}, [event("Held", ("team", "b"))])
    await writer.drained()
    assert kube.log == [("event", ("b", "Held"))]
    assert kube.patches == []


async def test_a_failed_write_is_tried_again_after_a_backoff_and_its_events_posted_once() -> None:
    kube = LoggingKube(failures=2)
    writer, written = writer_of(kube)
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer.offer({KEY: {"observedGeneration": 1}}, [event("Ready")])
    await writer.drained()
    assert kube.log == [("status", ("a", {"observedGeneration": 1})), ("event", ("a", "Ready"))]
    assert loop.time() - started >= 4  # waited as long as the API server asked, twice
    assert written == {KEY: {"observedGeneration": 1}}


async def test_a_status_offered_while_its_older_one_fails_is_merged_over_it() -> None:
    kube = LoggingKube(delay=1, failures=1)
    writer, _ = writer_of(kube)
    writer.offer({KEY: {"observedGeneration": 1, "resolvedURL": None}}, [event("One")])
    await asyncio.sleep(0.5)  # the first write is in flight (and will fail)
    assert writer.pending(KEY) == {"observedGeneration": 1, "resolvedURL": None}
    writer.offer({KEY: {"observedGeneration": 2}}, [event("Two")])
    await writer.drained()
    assert kube.log == [
        ("status", ("a", {"observedGeneration": 2, "resolvedURL": None})),
        ("event", ("a", "One")),
        ("event", ("a", "Two")),
    ]


async def test_a_lost_lease_stops_the_writer_and_drops_what_it_queued() -> None:
    kube = LoggingKube(delay=1)
    leading = [True]
    woken: list[bool] = []
    writer, _ = writer_of(
        kube, concurrency=1, may_write=lambda: leading[0], wake=lambda: woken.append(True)
    )
    writer.offer({("team", f"l{i}"): {"observedGeneration": 1} for i in range(5)})
    await asyncio.sleep(0.5)  # the first write is in flight
    leading[0] = False
    await writer.drained()
    assert [key for key, _ in kube.patches] == [("team", "l0")]
    assert writer.backlog == 0
    assert woken  # the scheduler looks at the Lease, and a new holder plans afresh


async def test_the_table_waits_for_a_write_in_flight_of_a_link_it_changes_and_no_other() -> None:
    kube = LoggingKube(delay=10)
    writer, _ = writer_of(kube)
    writer.offer({KEY: {"observedGeneration": 1}, ("team", "b"): {"observedGeneration": 1}})
    await asyncio.sleep(1)  # both in flight
    loop = asyncio.get_running_loop()
    started = loop.time()
    await writer.hold([("team", "b")])
    assert ("team", "b") in [key for key, _ in kube.patches]  # it landed before the table
    assert loop.time() - started == pytest.approx(9, abs=0.1)
    writer.offer({("team", "c"): {"observedGeneration": 1}})
    await asyncio.sleep(20)
    assert ("team", "c") not in [key for key, _ in kube.patches]  # held while the table is written
    writer.release()
    await writer.drained()
    assert ("team", "c") in [key for key, _ in kube.patches]


async def test_a_pass_returns_without_waiting_for_its_statuses_and_plans_none_twice() -> None:
    kube = LoggingKube(delay=1)
    passes = PassExecutor(kube=kube, config=CONFIG, metrics=OperatorMetrics(), wake=lambda: None)
    links = [index_link(obj(f"l{i}", f"https://e.com/{i}")) for i in range(100)]
    links += [index_link(obj(f"bad{i}", "ftp://e.com/")) for i in range(20)]
    try:
        await passes.run(list(links))
        # Every link is in the table; its 120 statuses (16 at a time, a second each) are not yet.
        assert len(routes_of(kube)) == 100
        assert len(kube.patches) < 20
        # A change gets its pass, and its table write, while the backlog is still being written.
        links.append(index_link(obj("late", "https://e.com/late")))
        await passes.run(list(links))
        assert "late" in routes_of(kube)
        assert len(kube.patches) < 40
        await passes.statuses_written()
        # One more pass over the same links writes nothing again.
        await passes.run(list(links))
        await passes.statuses_written()
    finally:
        await passes.close()
    assert sorted(key[1] for key, _ in kube.patches) == sorted(link.name for link in links)
    events = [entry for kind, entry in kube.log if kind == "event"]
    assert sorted(events) == sorted((f"bad{i}", "InvalidSpec") for i in range(20))


def routes_of(kube: FakeKube) -> set[str]:
    return {r.slug for s in kube.shards.values() for r in decode_shard(s.data).routes}


class TableLoggingKube(LoggingKube):
    """Logs shard writes too; each takes `shard_delay` seconds, and status writes started while
    one is under way are counted."""

    def __init__(self, *, delay: float, shard_delay: float) -> None:
        super().__init__(delay=delay)
        self.shard_delay = shard_delay
        self.writing_table = False
        self.started_during_table: list[str] = []

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        if self.writing_table:
            self.started_during_table.append(name)
        await super().patch_status(namespace, name, status)

    async def update_shard(self, shard: Any, data: Mapping[str, str]) -> Any:
        self.writing_table = True
        try:
            await asyncio.sleep(self.shard_delay)
            self.log.append(("shard", shard.name))
            return await super().update_shard(shard, data)
        finally:
            self.writing_table = False


async def test_a_status_in_flight_lands_before_the_table_that_changes_its_link() -> None:
    kube = TableLoggingKube(delay=10, shard_delay=1)
    passes = PassExecutor(kube=kube, config=CONFIG, metrics=OperatorMetrics(), wake=lambda: None)
    first = index_link(obj("a", "https://e.com/1"))
    others = [index_link(obj(f"o{i}", f"https://e.com/o{i}")) for i in range(40)]
    changed = obj("a", "https://e.com/2")
    changed["metadata"]["generation"] = 2
    try:
        await passes.run([first, *others])
        await asyncio.sleep(1)  # a's first status (and 15 others) in flight
        await passes.run([index_link(changed), *others])
        await passes.statuses_written()
    finally:
        await passes.close()
    log = [entry for entry in kube.log if entry[0] != "event"]
    a_writes = [i for i, (kind, what) in enumerate(log) if kind == "status" and what[0] == "a"]
    table_write = log.index(("shard", shard_name(0)))
    # The first status of "a" was written before the table that changed "a"; the second after.
    assert [log[i][1][1]["observedGeneration"] for i in a_writes] == [1, 2]
    assert a_writes[0] < table_write < a_writes[1]
    # No status write started while the table was being written.
    assert kube.started_during_table == []


async def test_the_backlog_metric_counts_statuses_not_yet_written() -> None:
    kube = LoggingKube(delay=1)
    metrics = OperatorMetrics()
    passes = PassExecutor(kube=kube, config=CONFIG, metrics=metrics, wake=lambda: None)

    def backlog() -> float | None:
        return metrics.registry.get_sample_value("shortlink_operator_status_backlog")

    try:
        assert backlog() == 0
        await passes.run([index_link(obj(f"l{i}", f"https://e.com/{i}")) for i in range(40)])
        assert backlog() == 40
        await passes.statuses_written()
        assert backlog() == 0
    finally:
        await passes.close()
