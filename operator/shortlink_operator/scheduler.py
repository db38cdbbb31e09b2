"""When the publisher runs a pass: the control loop, and nothing of what a pass does.

Changes only `wake()` the scheduler. It runs a pass when all of these hold: this process holds
the writer Lease (`leadership`; a standby looks at the Lease every renew interval), the inputs are
known (`Hooks.ready`), and something asked for a pass: a change, drift, a resync, a time-based
change falling due, or a refused shard's retry. Before a pass it waits `debounce` to gather a
burst, and after a long plan as long again, so a stream of changes leaves kopf half the CPU.

After a pass:
- a refused shard is tried again after a backoff (`shortlink_core.backoff`), while a change
  anywhere still gets its pass at once;
- a 409 (`Conflict`: someone else wrote a shard) re-reads the table and plans again at once,
  never overwriting blindly;
- a 429 (`Throttled`) waits as long as the API server asks;
- any other error re-reads the table and retries after a backoff.
Every `resync_seconds` it re-reads the table (repairing anything changed behind the operator's
back) and asks `Hooks.resync` to forget objects whose deletion the watch missed.

A pass ends once the table is written: the statuses it planned are written beside the next
passes (`status_writer`), so a change arriving during a bulk create waits only for the debounce
and the pass before it, never for a backlog of statuses. Losing the Lease stops those writes too:
the status writer asks the Lease before each one, and `Hooks.stand_by` drops what it has queued.
The Lease is renewed during a pass too, so a pass longer than the Lease does not let it lapse.

Times are the event loop's (`loop.time()`, monotonic), so tests fast-forward them with
`looptime`; a time-based change (`activeFrom`, `expiresAt`, a grace period) is on the wall clock.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from shortlink_core.backoff import Backoff
from shortlink_operator.executor import PassResult
from shortlink_operator.kube import Conflict, Throttled
from shortlink_operator.leadership import Leadership
from shortlink_operator.metrics import OperatorMetrics

#: Waits after failed passes in a row, and between tries of a refused shard.
BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)
#: The shortest wait for anything, so a due time in the past never makes the loop spin.
MIN_WAIT_SECONDS: Final = 0.05
#: Wake this long after a time-based change is due (the wall clock is read again then).
CHANGE_MARGIN_SECONDS: Final = 0.5

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the scheduler calls: each says what happens, the scheduler says when."""

    #: Run one pass over the current inputs.
    publish: Callable[[], Awaitable[PassResult]]
    #: Whether there is anything to publish yet (the inputs are known).
    ready: Callable[[], bool]
    #: Read the table again before the next write.
    reread: Callable[[], None]
    #: Another operator holds the Lease.
    stand_by: Callable[[], None]
    #: The periodic resync: forget objects whose deletion the watch missed.
    resync: Callable[[], None]


class Scheduler:
    def __init__(
        self,
        *,
        debounce_seconds: float,
        resync_seconds: float,
        metrics: OperatorMetrics,
        leadership: Leadership | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` is the wall clock that time-based changes are due on."""
        self._debounce_seconds = debounce_seconds
        self._resync_seconds = resync_seconds
        self._metrics = metrics
        self._leadership = leadership
        self._clock = clock
        self._wake = asyncio.Event()
        self._failures = Backoff(BACKOFF_SECONDS)
        self._refusals = Backoff(BACKOFF_SECONDS)
        self._plan_seconds = 0.0
        #: When an outcome changes by itself, on the wall clock.
        self._next_change: float | None = None
        #: When to try the refused shards again (loop time).
        self._retry_at: float | None = None

    def wake(self) -> None:
        """Ask for a pass (as soon as the debounce and the Lease allow)."""
        self._wake.set()

    async def run(self, hooks: Hooks) -> None:
        """Run passes when they are due, until cancelled."""
        loop = asyncio.get_running_loop()
        leading = self._leadership is None
        resync_at = loop.time() + self._resync_seconds
        first = True  # look at the Lease at once, so a standby is known to be one from the start
        while True:
            with contextlib.suppress(TimeoutError):
                timeout = 0 if first else self._timeout(resync_at)
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            first = False
            if loop.time() >= resync_at:
                hooks.reread()  # periodic resync: repair anything changed behind our back
                hooks.resync()  # ... and forget objects whose deletion the watch missed
                resync_at = loop.time() + self._resync_seconds
                self._wake.set()
            if self._next_change is not None and self._next_change <= self._clock():
                self._wake.set()  # a time passed (a grace period, activeFrom, expiresAt)
            if self._retry_at is not None and self._retry_at <= loop.time():
                self._retry_at = None  # try the refused shards again
                hooks.reread()
                self._wake.set()
            try:
                if self._leadership is not None and not await self._leadership.ensure():
                    if leading:
                        logger.info("another operator holds the writer Lease; standing by")
                    leading = False
                    hooks.stand_by()  # the table changes now are the other operator's writes
                    # Changes keep `_wake` set while we stand by: look at the Lease only so often.
                    await asyncio.sleep(self._leadership.renew_interval)
                    continue
                if not leading:
                    logger.info("holding the writer Lease; publishing")
                    leading = True
                    hooks.reread()
                    self._wake.set()
                if not hooks.ready():
                    # Nothing to publish before the first request (seeding's, or a handler's).
                    self._wake.clear()
                    continue
                if not self._wake.is_set():
                    continue
                # Gather a burst; and after a long plan (a big table) wait as long again, so a
                # stream of changes (thousands of links applied at once) leaves kopf half the CPU.
                async with self._lease_kept():
                    await asyncio.sleep(max(self._debounce_seconds, self._plan_seconds))
                    self._wake.clear()
                    result = await hooks.publish()
                self._passed(result, now=loop.time())
            except Conflict:
                self._metrics.passes.labels("conflict").inc()
                logger.info("a routing-table shard changed underneath; re-reading and planning")
                hooks.reread()
                self._wake.set()
            except Throttled as throttled:
                self._metrics.passes.labels("error").inc()
                logger.warning(
                    "the API server asks to slow down; waiting %s s", throttled.retry_after
                )
                hooks.reread()
                await asyncio.sleep(throttled.retry_after)
                self._wake.set()
            except Exception:
                self._metrics.passes.labels("error").inc()
                delay = self._failures.failed()
                logger.exception("publishing the routing table failed; retrying in %s s", delay)
                hooks.reread()
                await asyncio.sleep(delay)
                self._wake.set()

    @contextlib.asynccontextmanager
    async def _lease_kept(self) -> AsyncIterator[None]:
        """Renew the Lease every renew interval while a pass (and the wait before it) runs.

        The loop looks at the Lease only between passes: on a busy machine a big pass outlasted
        the Lease, so the status writer (which asks the Lease before each write) dropped its
        backlog, and a standby could have taken over in the middle of the pass.
        """
        leadership = self._leadership
        if leadership is None:
            yield
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(leadership.renew_interval)
                try:
                    if not await leadership.ensure():
                        return  # taken over: the loop stands by after this pass
                except Exception as error:  # the loop's own look at the Lease reports it
                    logger.warning("could not renew the writer Lease during a pass: %s", error)

        keeper = asyncio.create_task(renew(), name="shortlink-lease-keeper")
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    def _passed(self, result: PassResult, *, now: float) -> None:
        self._failures.succeeded()
        self._plan_seconds = result.plan_seconds
        self._next_change = result.next_change
        if result.refused:
            # Only those shards wait; a change anywhere still gets its pass at once.
            self._metrics.passes.labels("error").inc()
            self._retry_at = now + self._refusals.failed()
        else:
            self._refusals.succeeded()
            self._retry_at = None
            self._metrics.passes.labels("success").inc()

    def _timeout(self, resync_at: float) -> float:
        now = asyncio.get_running_loop().time()
        timeout = resync_at - now
        if self._leadership is not None:
            timeout = min(timeout, self._leadership.renew_interval)
        if self._next_change is not None:
            timeout = min(timeout, self._next_change - self._clock() + CHANGE_MARGIN_SECONDS)
        if self._retry_at is not None:
            timeout = min(timeout, self._retry_at - now)
        return max(timeout, MIN_WAIT_SECONDS)
