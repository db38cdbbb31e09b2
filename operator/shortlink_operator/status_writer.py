"""ShortLink statuses and their Events, written beside the passes rather than inside them.

A pass hands over (`offer`) the status each changed link should have once its shards and the
manifest are written, with the Events that announce it; a writer task drains them a few at a time
(`concurrency`) while the next passes plan and write the table. So a pass never waits for a
backlog of thousands of statuses, and the change that started the next pass reaches the table at
once. What a pass hands over:
- latest wins: one entry per link; a status offered again before it was written replaces the
  queued one (the two merge patches merged, so a field the first removed stays removed), and the
  Events of both are posted, in order, once the merged status is written;
- the status queued or being written is what the next pass plans from (`pending`), so it plans no
  second write, and no second Event, for a status on its way;
- an Event is posted only after the status it reports (`Event.cause`) is written; one whose cause
  has no new status is posted on its own, beside the statuses;
- a status with an older `observedGeneration` than the one queued is ignored.

Ready means served: a pass offers a status only after writing the shards and the manifest that
serve it, and before writing the table it waits for the writes in flight of the links its plan
changes (`hold`), so a status planned from an older table never lands after a newer table. While
a pass writes the table no new status write starts: the table goes first.

Only the writer Lease's holder writes: before each write the writer asks `may_write`; once it
says no, everything queued is dropped (the next holder plans from the statuses it sees) and the
scheduler is woken to find out who holds the Lease. A write that fails is tried again after a
backoff (`shortlink_core.backoff`), unless a newer status replaced it meanwhile; a 429 waits as
long as the API server asks. A link deleted meanwhile is not an error (`Kube.patch_status`).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shortlink_core.backoff import Backoff
from shortlink_operator.kube import Kube, Throttled
from shortlink_operator.planning import Event

Key = tuple[str, str]

#: Waits after status writes failed in a row.
BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    #: The merge patch to write; None when only Events wait (their cause's status is unchanged).
    status: Mapping[str, Any] | None
    events: list[Event] = field(default_factory=list)


def _generation(status: Mapping[str, Any] | None) -> int:
    value = None if status is None else status.get("observedGeneration")
    return value if isinstance(value, int) else -1


class StatusWriter:
    def __init__(
        self,
        *,
        kube: Kube,
        concurrency: int,
        post_event: Callable[[Event], Any],
        written: Callable[[Key, Mapping[str, Any]], None],
        may_write: Callable[[], bool] = lambda: True,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        """`post_event` posts one Event (awaitable; it logs its own failures); `written` is told
        each status written; `may_write` says whether this process still holds the writer Lease;
        `wake` asks the scheduler for a pass."""
        self._kube = kube
        self._concurrency = concurrency
        self._post_event = post_event
        self._written = written
        self._may_write = may_write
        self._wake = wake
        # Insertion order is the order of writing: the longest waiting first.
        self._queue: dict[Key, _Entry] = {}
        self._in_flight: dict[Key, tuple[_Entry, asyncio.Event]] = {}
        self._open = asyncio.Event()
        self._open.set()
        self._failures = Backoff(BACKOFF_SECONDS)
        self._task: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        """Statuses (and lone Events) queued or being written."""
        return len(self._queue) + len(self._in_flight)

    def pending(self, key: Key) -> Mapping[str, Any] | None:
        """The status queued or being written for `key`: what the link will say."""
        queued = self._queue.get(key)
        if queued is not None and queued.status is not None:
            return queued.status
        flight = self._in_flight.get(key)
        return None if flight is None else flight[0].status

    def offer(
        self, statuses: Mapping[Key, Mapping[str, Any]], events: Iterable[Event] = ()
    ) -> None:
        """Queue `statuses` and the `events` that report them (or report links whose status is
        unchanged); the caller has written the table that serves them."""
        for key, status in statuses.items():
            queued = self._queue.get(key)
            if queued is None:
                self._queue[key] = _Entry(status)
            elif queued.status is None:
                queued.status = status
            elif _generation(status) >= _generation(queued.status):
                # Both are merge patches: applying the merged one is applying both in turn.
                queued.status = {**queued.status, **status}
        for event in events:
            entry = self._queue.get(event.cause)
            if entry is None:
                entry = self._queue[event.cause] = _Entry(None)
            entry.events.append(event)
        if self._queue and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain(), name="shortlink-status-writer")

    async def hold(self, keys: Collection[Key]) -> None:
        """Start no new write until `release`, and wait for the writes in flight of `keys`
        (links whose status the pass about to write the table changes)."""
        self._open.clear()
        for key in keys:
            flight = self._in_flight.get(key)
            if flight is not None:
                await flight[1].wait()

    def release(self) -> None:
        """The table is written: statuses may be written again."""
        self._open.set()

    def abandon(self) -> None:
        """Drop everything queued: another process holds the writer Lease (or will)."""
        self._queue.clear()

    async def drained(self) -> None:
        """Wait until everything queued is written (or dropped)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop writing (the operator is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _drain(self) -> None:
        # Workers end when the queue is empty; checked again with no await in between, so an
        # `offer` either sees this task still running or starts a new one.
        while self._queue:
            await asyncio.gather(*(self._worker() for _ in range(self._concurrency)))

    async def _worker(self) -> None:
        while self._queue:
            await self._open.wait()
            if not self._queue:
                return
            if not self._may_write():
                if self._queue:
                    logger.info(
                        "writer Lease not held: dropping %d queued statuses", len(self._queue)
                    )
                    self._queue.clear()
                    self._wake()
                return
            key = next(iter(self._queue))
            entry = self._queue.pop(key)
            done = asyncio.Event()
            self._in_flight[key] = (entry, done)
            try:
                delay = await self._write(key, entry)
            finally:
                del self._in_flight[key]
                done.set()
            if delay is not None:
                self._requeue(key, entry)
                await asyncio.sleep(delay)

    async def _write(self, key: Key, entry: _Entry) -> float | None:
        """Write one entry; on failure, how long to wait before trying it again."""
        if entry.status is not None:
            try:
                await self._kube.patch_status(key[0], key[1], entry.status)
            except Throttled as throttled:
                logger.warning("status writes throttled; waiting %s s", throttled.retry_after)
                return throttled.retry_after
            except Exception as error:
                delay = self._failures.failed()
                logger.warning(
                    "writing the status of %s/%s failed (%s); retrying in %s s",
                    key[0],
                    key[1],
                    error,
                    delay,
                )
                return delay
            self._failures.succeeded()
            self._written(key, entry.status)
        for event in entry.events:
            with contextlib.suppress(Exception):  # `post_event` logs; an Event is never retried
                await self._post_event(event)
        return None

    def _requeue(self, key: Key, failed: _Entry) -> None:
        """Queue a failed entry again, behind the others; a newer status offered meanwhile was
        planned from the failed one, so it is merged over it and its Events follow."""
        newer = self._queue.pop(key, None)
        if newer is not None:
            if newer.status is not None:
                failed.status = {**(failed.status or {}), **newer.status}
            failed.events.extend(newer.events)
        self._queue[key] = failed
