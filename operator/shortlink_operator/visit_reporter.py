"""Keeps each ShortLink's `status.visits` in line with Prometheus: a task of its own, beside the
publisher, started only with `--prometheus-url`.

Every `--visits-interval-seconds` the holder of the writer Lease asks Prometheus for the visits
(`visits` writes the queries and decides what changed), then writes the changed `status.visits`
through `kube` under a global budget of `--visits-writes-per-second`, in `visits.write_order`.
What the budget cannot write before the next poll waits for it. Each write is a merge patch of
`status.visits` alone on the status subresource, so the publisher's fields are never touched, and
it never waits for or holds up a publishing pass.

A standby operator neither queries nor writes. When Prometheus does not answer, the poll is
logged, counted (`shortlink_operator_visits_polls_total{result="error"}`) and retried with
backoff; statuses stay as they were.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from shortlink_core.backoff import Backoff
from shortlink_operator.budget import RateBudget, Sleep
from shortlink_operator.kube import Kube, Throttled
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.prometheus import Prometheus, PrometheusUnavailable
from shortlink_operator.visits import (
    Change,
    Key,
    Visits,
    changes,
    current_visits,
    queries,
    read_vector,
    write_order,
)

#: Added to the interval to make a poll's lookback, so consecutive lookbacks overlap by more than
#: two scrapes at any common scrape interval (up to 30 s): no visit falls between two polls.
LOOKBACK_MARGIN_SECONDS: Final = 60
BACKOFF_SECONDS: Final = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0)
#: Status writes in flight at once; the budget, not this, sets the rate.
WRITE_CONCURRENCY: Final = 4

logger = logging.getLogger(__name__)


class VisitReporter:
    def __init__(
        self,
        *,
        kube: Kube,
        metrics: OperatorMetrics,
        prometheus: Prometheus,
        links: Callable[[], Sequence[IndexedLink]],
        interval: float,
        writes_per_second: float,
        leadership: Leadership | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._kube = kube
        self._metrics = metrics
        self._prometheus = prometheus
        self._links = links
        self._interval = interval
        self._leadership = leadership
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._budget = RateBudget(writes_per_second, monotonic=monotonic, sleep=sleep)
        self._queries = queries(lookback_seconds=math.ceil(interval) + LOOKBACK_MARGIN_SECONDS)
        # Visits written but not yet seen back through the watch, so a poll in between does not
        # write them again.
        self._shown: dict[Key, Visits] = {}
        # When each link's visits were last written (monotonic): the longest waiting go first.
        self._last_written: dict[Key, float] = {}

    async def run(self) -> None:
        """Poll and write until cancelled."""
        failures = Backoff(BACKOFF_SECONDS)
        while True:
            started = self._monotonic()
            if not self._leading():
                self._shown.clear()  # another process may write meanwhile: trust the statuses
                await self._sleep(self._standby_interval())
                continue
            try:
                pending = await self.poll()
            except Exception as error:  # Prometheus away, or a surprise: never end the task
                self._metrics.visits_polls.labels("error").inc()
                if not isinstance(error, PrometheusUnavailable):
                    logger.exception("reading visits failed unexpectedly")
                delay = min(self._interval, failures.failed())
                logger.warning("no visits from Prometheus (%s); retrying in %s s", error, delay)
                await self._sleep(delay)
                continue
            failures.succeeded()
            await self.write(pending, until=started + self._interval)
            await self._sleep(max(0.0, started + self._interval - self._monotonic()))

    async def poll(self) -> list[Change]:
        """Ask Prometheus, and return the changes to write, in the order to write them."""
        now = self._clock()
        results = {
            name: await self._prometheus.query(expr, at=now) for name, expr in self._queries.items()
        }
        # Diffing 100,000 links takes a good part of a second of CPU: in a thread, so the event
        # loop (kopf's watches, the publisher) keeps getting its turns meanwhile. Nothing else
        # touches `_shown` or `_last_written` until this returns.
        pending = await asyncio.to_thread(self._diff, results, self._links(), now)
        self._metrics.visits_polls.labels("success").inc()
        self._metrics.visits_last_poll.set(now)
        self._metrics.visits_pending.set(len(pending))
        return pending

    def _diff(
        self,
        results: Mapping[str, Sequence[Mapping[str, Any]]],
        links: Sequence[IndexedLink],
        now: float,
    ) -> list[Change]:
        answers = {name: read_vector(result) for name, result in results.items()}
        self._forget_seen(links)
        found = changes(links, answers, now=now, shown=self._shown)
        return write_order(found, last_written=self._last_written)

    async def write(self, pending: Sequence[Change], *, until: float) -> None:
        """Write `pending` in order under the budget, stopping at `until` (monotonic), when the
        Lease is lost, or at the first error (the next poll plans again)."""
        queue: Iterator[Change] = iter(pending)
        left = len(pending)
        stopped = False

        async def worker() -> None:
            nonlocal left, stopped
            for change in queue:
                if not stopped:
                    await self._budget.take()
                if stopped or self._monotonic() >= until or not self._leading():
                    stopped = True
                    return
                try:
                    await self._kube.patch_visits(*change.key, change.visits.to_status())
                except Throttled as throttled:
                    logger.warning("the API server asks to slow down visits writes")
                    stopped = True
                    await self._sleep(throttled.retry_after)
                    return
                except Exception as error:
                    logger.warning("writing status.visits of %s/%s failed: %s", *change.key, error)
                    stopped = True
                    return
                self._shown[change.key] = change.visits
                self._last_written[change.key] = self._monotonic()
                left -= 1
                self._metrics.visits_pending.set(left)

        await asyncio.gather(*(worker() for _ in range(WRITE_CONCURRENCY)))

    async def close(self) -> None:
        await self._prometheus.close()

    def _leading(self) -> bool:
        return self._leadership is None or self._leadership.holding

    def _standby_interval(self) -> float:
        return self._leadership.renew_interval if self._leadership is not None else 1.0

    def _forget_seen(self, links: Sequence[IndexedLink]) -> None:
        present = {link.key: link for link in links}
        for key, visits in list(self._shown.items()):
            link = present.get(key)
            if link is None or current_visits(link.status) == visits:
                del self._shown[key]
        for key in [key for key in self._last_written if key not in present]:
            del self._last_written[key]
