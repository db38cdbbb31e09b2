"""When a pass runs: debounce, backoff after errors and refused shards, resync, time-based changes.

The scheduler is driven through its `Hooks` with a pass that only records when it ran (in the
event loop's time) and answers what the test says. `looptime` fast-forwards the loop's time, so
"no pass before the backoff is over" is checked exactly, in no real time.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from shortlink_operator.executor import PassResult
from shortlink_operator.kube import Conflict, Throttled
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.scheduler import BACKOFF_SECONDS, Hooks, Scheduler

pytestmark = pytest.mark.looptime

#: The wall clock's reading at loop time 0 (time-based changes are due on the wall clock).
EPOCH = 1_700_000_000.0


@dataclass
class Driven:
    """Hooks that record every call at its loop time; each pass answers with `outcomes`' next."""

    outcomes: list[PassResult | Exception] = field(default_factory=list)
    ready: bool = True
    passes: list[float] = field(default_factory=list)
    rereads: list[float] = field(default_factory=list)
    resyncs: list[float] = field(default_factory=list)
    standbys: int = 0

    def hooks(self) -> Hooks:
        loop = asyncio.get_running_loop()

        async def publish() -> PassResult:
            self.passes.append(loop.time())
            outcome = self.outcomes.pop(0) if self.outcomes else done()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        def stand_by() -> None:
            self.standbys += 1

        return Hooks(
            publish=publish,
            ready=lambda: self.ready,
            reread=lambda: self.rereads.append(loop.time()),
            stand_by=stand_by,
            resync=lambda: self.resyncs.append(loop.time()),
        )


def done(
    *, refused: frozenset[str] = frozenset(), next_change: float | None = None, plan: float = 0.0
) -> PassResult:
    return PassResult(refused=refused, next_change=next_change, plan_seconds=plan)


def wall_clock() -> Callable[[], float]:
    loop = asyncio.get_running_loop()
    return lambda: EPOCH + loop.time()


@asynccontextmanager
async def running(
    driven: Driven, *, debounce: float = 0.0, resync: float = 3600.0, **parts: object
) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(
        debounce_seconds=debounce,
        resync_seconds=resync,
        metrics=OperatorMetrics(),
        clock=wall_clock(),
        **parts,  # type: ignore[arg-type]
    )
    task = asyncio.create_task(scheduler.run(driven.hooks()))
    try:
        yield scheduler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def since(times: list[float], start: float) -> list[float]:
    return [round(t - start, 3) for t in times]


async def test_failed_passes_are_retried_after_growing_delays_and_a_success_starts_over() -> None:
    start = asyncio.get_running_loop().time()
    failure = RuntimeError("the API server is away")
    driven = Driven(outcomes=[failure, failure, failure, done(), failure])
    async with running(driven) as scheduler:
        scheduler.wake()
        await asyncio.sleep(10)
        # Three failures wait 0.5, 1 and 2 s; the pass after them works and none is due since.
        assert since(driven.passes, start) == [0, 0.5, 1.5, 3.5]
        scheduler.wake()
        await asyncio.sleep(10)
    # After a success the next failure waits the shortest delay again.
    assert since(driven.passes, start)[4:] == [10, 10 + BACKOFF_SECONDS[0]]
    assert len(driven.rereads) == 4  # every failure reads the table again


async def test_a_burst_of_requests_within_the_debounce_is_one_pass() -> None:
    start = asyncio.get_running_loop().time()
    driven = Driven()
    async with running(driven, debounce=1.0) as scheduler:
        for _ in range(5):
            scheduler.wake()
            await asyncio.sleep(0.1)
        await asyncio.sleep(5)
    assert since(driven.passes, start) == [1.0]


async def test_after_a_long_plan_the_next_pass_waits_as_long() -> None:
    start = asyncio.get_running_loop().time()
    driven = Driven(outcomes=[done(plan=3.0)])
    async with running(driven, debounce=0.5) as scheduler:
        scheduler.wake()
        await asyncio.sleep(1)
        scheduler.wake()
        await asyncio.sleep(10)
    # The first waits the debounce; the second as long as the first one's plan took.
    assert since(driven.passes, start) == [0.5, 4.0]


async def test_a_conflict_re_reads_and_plans_again_at_once_and_throttling_waits_as_asked() -> None:
    start = asyncio.get_running_loop().time()
    driven = Driven(outcomes=[Conflict("shard-0"), Throttled("slow down", 7.0), done()])
    async with running(driven) as scheduler:
        scheduler.wake()
        await asyncio.sleep(20)
    assert since(driven.passes, start) == [0, 0, 7.0]
    assert since(driven.rereads, start) == [0, 0]


async def test_a_refused_shard_is_retried_after_a_backoff_while_other_changes_pass_at_once() -> (
    None
):
    start = asyncio.get_running_loop().time()
    refused = done(refused=frozenset({"shortlink-routes-0"}))
    driven = Driven(outcomes=[refused, refused, refused, done()])
    async with running(driven) as scheduler:
        scheduler.wake()
        await asyncio.sleep(0.2)
        scheduler.wake()  # a change elsewhere: its pass does not wait for the refused shard
        await asyncio.sleep(10)
    # 0: refused; 0.2: the change, refused again; then retries after 1 s (the second refusal in
    # a row) and 2 s, reading the table again before each; the last one worked.
    assert since(driven.passes, start) == [0, 0.2, 1.2, 3.2]
    assert since(driven.rereads, start) == [1.2, 3.2]


async def test_the_resync_re_reads_the_table_and_prunes_every_period_and_not_before() -> None:
    start = asyncio.get_running_loop().time()
    driven = Driven()
    async with running(driven, resync=60.0) as scheduler:
        scheduler.wake()
        await asyncio.sleep(59)
        assert (driven.rereads, driven.resyncs) == ([], [])
        await asyncio.sleep(62)
    assert since(driven.resyncs, start) == [60, 120]
    assert since(driven.rereads, start) == [60, 120]
    assert since(driven.passes, start) == [0, 60, 120]


async def test_a_pass_runs_when_a_time_based_change_falls_due() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    # The first pass plans a link that becomes active 30 s later (on the wall clock).
    driven = Driven(outcomes=[done(next_change=EPOCH + start + 30)])
    async with running(driven) as scheduler:
        scheduler.wake()
        await asyncio.sleep(29)
        assert len(driven.passes) == 1
        await asyncio.sleep(2)
    # Woken just after the change is due (the wall clock is read again then), not at the resync.
    assert since(driven.passes, start) == [0, 30.5]


async def test_nothing_is_published_before_the_inputs_are_known() -> None:
    start = asyncio.get_running_loop().time()
    driven = Driven(ready=False)
    async with running(driven) as scheduler:
        scheduler.wake()
        await asyncio.sleep(10)
        assert driven.passes == []
        driven.ready = True
        scheduler.wake()
        await asyncio.sleep(1)
    assert since(driven.passes, start) == [10]
