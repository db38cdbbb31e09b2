"""Probes link targets and keeps each ShortLink's `TargetReachable` condition: a task of its own,
beside the publisher, started only with `--probe-targets`. It never changes whether a link is
served: `Ready` and the routing table are the publisher's alone.

Work is by distinct target, not by link: links sharing a target share one probe and its cached
result, and a target is probed again `--probe-interval-seconds` after its last probe (targets never
probed go first, then the longest waiting; a target may be probed up to `STEP_SECONDS` (at most a
quarter of the interval) early, so targets are probed in batches). Every request (a HEAD, and
the GET after a 405 or 501) first takes a token from one global budget of `--probe-rate` requests
a second, and at most `--probe-concurrency` are in flight, so the request rate is bounded however
many links and hosts there are; with more targets than the rate covers in an interval, the
interval stretches.

The operator probes in steps: up to `STEP_SECONDS` worth of requests, then it brings the
conditions in line with the results (`sync`), so new links are probed and reported within a step
however long a full round takes. A condition is written only when it changes (not at every probe),
by server-side apply of that one condition (`kube.apply_condition`), under a budget of
`--probe-writes-per-second`; a write not yet seen back through the watch is not repeated for
`SEEN_GRACE_SECONDS`, after which a write that was lost (a publisher's write that raced it) is
made again. Only the holder of the writer Lease probes and writes.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from shortlink_operator.budget import RateBudget, Sleep
from shortlink_operator.http_probe import Answer
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.probing import (
    HEAD_REFUSED,
    STATES,
    TARGET_REACHABLE,
    ProbeResult,
    State,
    conclude,
    find_condition,
    probe_target,
    same_condition,
    state_of,
    target_condition,
)

#: Requests worth of this many seconds of the rate are probed before conditions are synced.
STEP_SECONDS: Final = 30.0
#: How long a condition written is trusted to come back through the watch before it is rewritten.
SEEN_GRACE_SECONDS: Final = 60.0
#: The longest wait when nothing is due: a new link waits at most this long for its first probe
#: (a look for due targets reads every link, so it is not made every second).
IDLE_SECONDS: Final = 30.0
#: Condition writes in flight at once; the budget, not this, sets the rate.
WRITE_CONCURRENCY: Final = 4
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

Key = tuple[str, str]
logger = logging.getLogger(__name__)


class Fetch(Protocol):
    """One HTTP request (`http_probe.HttpProbe`, or a fake in tests)."""

    async def __call__(self, method: str, url: str) -> Answer: ...


class ConditionWriter(Protocol):
    """Where conditions go (`kube.Kube`, or a fake in tests)."""

    metrics: OperatorMetrics

    def apply_condition(
        self, namespace: str, name: str, condition: Mapping[str, Any]
    ) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class Probed:
    result: ProbeResult
    #: When (monotonic) the target is due again.
    due: float


class Prober:
    def __init__(
        self,
        *,
        kube: ConditionWriter,
        fetch: Fetch,
        links: Callable[[], Sequence[IndexedLink]],
        interval: float,
        rate: float,
        concurrency: int,
        writes_per_second: float,
        leadership: Leadership | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._kube = kube
        self._metrics = kube.metrics
        self._fetch = fetch
        self._links = links
        self._interval = interval
        self._concurrency = concurrency
        self._step = max(concurrency, int(rate * STEP_SECONDS))
        self._leadership = leadership
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._requests = RateBudget(rate, monotonic=monotonic, sleep=sleep)
        self._writes = RateBudget(writes_per_second, monotonic=monotonic, sleep=sleep)
        #: The last result of each target that some link still has.
        self._probed: dict[str, Probed] = {}
        #: Conditions written but not yet seen back, and when (monotonic).
        self._shown: dict[Key, tuple[Mapping[str, Any], float]] = {}
        #: Each link's target, kept while its parsed spec is the same object (render is not free).
        self._targets: dict[Key, tuple[object, str | None]] = {}
        self._next_sync = 0.0
        #: Targets whose result changed since the last sync.
        self._fresh: set[str] = set()
        #: Each link as the last sync left it (the object, its state, since when unreachable):
        #: a link that is the same object, with a target whose result did not change and no
        #: write in flight, needs no look at 100,000 links' conditions at every sync.
        self._synced: dict[Key, tuple[IndexedLink, State, str | None]] = {}
        #: How long to wait after a step that found nothing due: until the next target is due,
        #: at most `IDLE_SECONDS`.
        self.idle_for = IDLE_SECONDS

    async def run(self) -> None:
        """Probe and write until cancelled."""
        while True:
            if not self._leading():
                self._standing_by()
                await self._sleep(self._standby_interval())
                continue
            probed = 0
            try:
                probed = await self.step()
                # Idle, conditions are synced once a step's time: for links whose generation
                # moved on, and for writes never seen back.
                if probed or self._monotonic() >= self._next_sync:
                    self._next_sync = self._monotonic() + STEP_SECONDS
                    await self.sync()
            except Exception:  # the API server away, or a surprise: never end the task
                logger.exception("probing link targets failed; trying again")
            if not probed:
                await self._sleep(self.idle_for or IDLE_SECONDS)

    async def step(self) -> int:
        """Probe the targets due now, at most a step's worth; return how many were probed."""
        # In a thread for the same reason as `sync`'s look at every link.
        targets = await asyncio.to_thread(self._targets_of, self._links())
        for url in self._probed.keys() - targets:  # no link points there any more
            del self._probed[url]
        now = self._monotonic()
        # Targets due within the coming step are probed now, up to a step's worth: a little
        # early, in batches, rather than a look at every link for each target as it falls due.
        horizon = now + min(STEP_SECONDS, self._interval / 4)
        due = sorted(
            (self._probed[url].due if url in self._probed else float("-inf"), url)
            for url in targets
            if url not in self._probed or self._probed[url].due <= horizon
        )
        queue = iter([url for _, url in due[: self._step]])
        upcoming = [probed.due for url, probed in self._probed.items() if url in targets]
        self.idle_for = min(IDLE_SECONDS, max(0.0, min(upcoming, default=now + IDLE_SECONDS) - now))

        async def worker() -> None:
            for url in queue:
                try:
                    result = await self._probe(url)
                except Exception:  # a surprise in one probe must not stop the others
                    logger.exception("probing %s failed unexpectedly", url)
                    continue
                previous = self._probed.get(url)
                if previous is None or previous.result != result:
                    self._fresh.add(url)
                self._probed[url] = Probed(result, self._monotonic() + self._interval)

        await asyncio.gather(*(worker() for _ in range(self._concurrency)))
        return min(len(due), self._step)

    async def _probe(self, url: str) -> ProbeResult:
        method = "HEAD"
        await self._requests.take()
        self._metrics.target_probes.labels(method).inc()
        answer = await self._fetch(method, url)
        if answer.status in HEAD_REFUSED:
            method = "GET"
            await self._requests.take()
            self._metrics.target_probes.labels(method).inc()
            answer = await self._fetch(method, url)
        return conclude(url, method, answer)

    async def sync(self, *, until: float | None = None) -> None:
        """Write the conditions that differ from the last results, and update the metrics."""
        # Looking at 100,000 links takes a good part of a second of CPU: in a thread, so the
        # event loop (kopf's watches, the publisher) keeps getting its turns meanwhile. Nothing
        # else touches the prober's memory until it returns: steps and syncs take turns.
        pending, counts, oldest = await asyncio.to_thread(
            self._compare, self._links(), self._clock()
        )
        for state, count in counts.items():
            self._metrics.targets.labels(state).set(count)
        self._metrics.target_unreachable_since.set(_timestamp(oldest) if oldest else 0)
        await self._write(pending, until=until)

    def _compare(
        self, links: Sequence[IndexedLink], now: float
    ) -> tuple[list[tuple[Key, dict[str, Any]]], dict[State, int], str | None]:
        """The conditions to write, the links by state, and the oldest unreachable transition."""
        stamp = datetime.fromtimestamp(now, UTC).strftime(TIME_FORMAT)
        pending: list[tuple[Key, dict[str, Any]]] = []
        counts: dict[State, int] = dict.fromkeys(STATES, 0)
        unreachable_since: list[str] = []
        present: set[Key] = set()
        for link in links:
            key = link.key
            url = self._target(key, link)
            if url is None:
                continue
            present.add(key)
            known = self._synced.get(key)
            if (
                known is not None
                and known[0] is link
                and url not in self._fresh
                and key not in self._shown
            ):  # the same object, result and condition as at the last sync: nothing to do
                _, state, since = known
                counts[state] += 1
                if since is not None:
                    unreachable_since.append(since)
                continue
            seen = find_condition(link.status, TARGET_REACHABLE)
            shown = self._shown.get(key)
            if shown is not None and same_condition(seen, shown[0]):
                del self._shown[key]
                shown = None
            current = shown[0] if shown is not None else seen
            probed = self._probed.get(url)
            if probed is not None:
                wanted = target_condition(
                    {"conditions": [current]} if current is not None else {},
                    probed.result,
                    generation=link.generation,
                    now=stamp,
                )
                stale = shown is not None and shown[1] + SEEN_GRACE_SECONDS <= self._monotonic()
                if wanted is not None:
                    pending.append((key, wanted))
                    current = wanted
                elif stale and shown is not None:  # written long ago and never seen: again
                    pending.append((key, dict(shown[0])))
            state = state_of(current)
            counts[state] += 1
            since = None
            if state == "unreachable" and current is not None:
                since = str(current.get("lastTransitionTime") or stamp)
                unreachable_since.append(since)
            if pending and pending[-1][0] == key:
                self._synced.pop(key, None)  # to write: looked at again until seen
            else:
                self._synced[key] = (link, state, since)
        self._fresh.clear()
        for known_keys in (self._shown, self._targets, self._synced):
            for key in known_keys.keys() - present:
                del known_keys[key]
        return pending, counts, min(unreachable_since, default=None)

    async def _write(
        self, pending: Sequence[tuple[Key, dict[str, Any]]], *, until: float | None
    ) -> None:
        """Write `pending` under the budget, stopping at `until` (monotonic, default one step's
        time), when the Lease is lost, or at the first error; the next sync plans the rest."""
        deadline = until if until is not None else self._monotonic() + STEP_SECONDS
        queue = iter(pending)
        stopped = False

        async def worker() -> None:
            nonlocal stopped
            for key, condition in queue:
                if stopped:
                    return
                await self._writes.take()
                if stopped or self._monotonic() >= deadline or not self._leading():
                    stopped = True
                    return
                try:
                    await self._kube.apply_condition(key[0], key[1], condition)
                except Exception as error:
                    logger.warning("writing TargetReachable of %s/%s failed: %s", *key, error)
                    stopped = True
                    return
                self._shown[key] = (condition, self._monotonic())

        await asyncio.gather(*(worker() for _ in range(WRITE_CONCURRENCY)))

    def _targets_of(self, links: Sequence[IndexedLink]) -> set[str]:
        return {url for link in links if (url := self._target(link.key, link)) is not None}

    def _standing_by(self) -> None:
        # Another process may write meanwhile: trust the statuses, not what was written here.
        self._shown.clear()
        self._synced.clear()
        # The writer reports the targets; a standby's old numbers would count them twice.
        for state in STATES:
            self._metrics.targets.labels(state).set(0)
        self._metrics.target_unreachable_since.set(0)

    def _target(self, key: Key, link: IndexedLink) -> str | None:
        known = self._targets.get(key)
        if known is None or known[0] is not link.link:
            known = self._targets[key] = (link.link, probe_target(link))
        return known[1]

    def _leading(self) -> bool:
        return self._leadership is None or self._leadership.holding

    def _standby_interval(self) -> float:
        return self._leadership.renew_interval if self._leadership is not None else IDLE_SECONDS


def _timestamp(text: str) -> float:
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
