"""The single writer of the routing table and of ShortLink status.

Changes to ShortLinks only `request()` a pass; the publisher gathers a burst of them (debounce),
takes one snapshot of the link index, plans, and writes only what differs from the cluster: the
shards whose bytes changed, then the statuses that changed. A 409 from the API server means someone
else wrote a shard: the publisher re-reads the shards and plans again, never overwriting blindly.
Other API errors back off and retry the whole pass; nothing is retried for an invalid link, because
an invalid link is an outcome (`InvalidSpec`), not an error.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from shortlink_operator.config import OperatorConfig
from shortlink_operator.kube import Conflict, Kube, Shard
from shortlink_operator.links import IndexedLink
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.planning import Settings, plan

LinkSource = Callable[[], Iterable[IndexedLink]]
BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)

logger = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self, *, kube: Kube, config: OperatorConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._kube = kube
        self._metrics: OperatorMetrics = kube.metrics
        self._config = config
        self._clock = clock
        self._wake = asyncio.Event()
        self._source: LinkSource | None = None
        self._shards: dict[str, Shard] | None = None  # None: read them again before writing
        # Statuses written but not yet seen back through the watch, so a pass in between does not
        # write them again (with a new lastTransitionTime).
        self._written: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.last_success: float | None = None
        # When a link's outcome changes by itself (activeFrom, expiresAt passing).
        self._next_change: float | None = None
        self._settings = Settings(
            base_url=config.public_base_url,
            shard_count=config.shard_count,
            slug_key=config.slug_key.encode(),
        )

    def request(self, source: LinkSource) -> None:
        """Ask for a pass over the links that `source` returns (the complete, current set)."""
        self._source = source
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; the first pass waits until every link is known."""
        if self._source is None and not await self._kube.any_shortlinks() and self._source is None:
            self.request(
                lambda: ()
            )  # no links at all: publish the empty table, removing stale shards
        failures = 0
        while True:
            timeout = self._config.resync_seconds
            if self._next_change is not None:
                timeout = min(timeout, max(0.0, self._next_change - self._clock()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                self._shards = None  # periodic resync: repair anything changed behind our back
            await asyncio.sleep(self._config.debounce_seconds)
            self._wake.clear()
            if self._source is None:
                continue
            try:
                await self.publish(self._source())
                failures = 0
                self._metrics.passes.labels("success").inc()
            except Conflict:
                self._metrics.passes.labels("conflict").inc()
                logger.info(
                    "a routing-table shard changed underneath; re-reading and planning again"
                )
                self._shards = None
                self._wake.set()
            except Exception:
                self._metrics.passes.labels("error").inc()
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                logger.exception("publishing the routing table failed; retrying in %s s", delay)
                self._shards = None
                await asyncio.sleep(delay)
                self._wake.set()

    async def _publish_empty_table_if_there_are_no_links(self) -> None:
        """Without links, no event ever arrives; still remove what an earlier run left behind."""
        failures = 0
        while self._source is None:
            try:
                if not await self._kube.any_shortlinks() and self._source is None:
                    self.request(lambda: ())
                return
            except Exception as error:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                logger.warning("cannot list ShortLinks (%s); retrying in %s s", error, delay)
                await asyncio.sleep(delay)

    async def publish(self, links: Iterable[IndexedLink]) -> None:
        """One pass: bring the shards and statuses in the cluster in line with `links`."""
        links = list(links)
        self._forget_seen_statuses(links)
        if self._shards is None:
            self._shards = await self._kube.list_shards()
        with self._metrics.plan_duration.time():
            wanted = plan(
                links,
                settings=self._settings,
                now=self._clock(),
                status_of=lambda link: self._written.get(link.key, link.status),
            )
        self._next_change = wanted.next_change
        shards = self._shards
        table_written = False
        for name, data in wanted.shards.items():
            current = shards.get(name)
            if current is None:
                shards[name] = await self._kube.create_shard(name, data)
                table_written = True
            elif dict(current.data) != data:
                shards[name] = await self._kube.update_shard(current, data)
                table_written = True
        for name in sorted(set(shards) - set(wanted.shards)):
            await self._kube.delete_shard(shards.pop(name))
            table_written = True
        for (namespace, name), status in wanted.statuses.items():
            await self._kube.patch_status(namespace, name, status)
            self._written[(namespace, name)] = status
        self.last_success = time.time()
        self._observe(links, wanted.shards, table_written=table_written)

    def _observe(
        self,
        links: list[IndexedLink],
        shards: Mapping[str, Mapping[str, str]],
        *,
        table_written: bool,
    ) -> None:
        """Metrics of a successful pass (kept apart from publishing itself)."""
        assert self.last_success is not None
        self._metrics.observe_links(self._written.get(link.key, link.status) for link in links)
        self._metrics.observe_shards(shards)
        self._metrics.last_publish.set(self.last_success)
        if table_written:
            self._metrics.last_table_write.set(self.last_success)

    def _forget_seen_statuses(self, links: list[IndexedLink]) -> None:
        present = {link.key: link for link in links}
        for key, status in list(self._written.items()):
            link = present.get(key)
            if link is None or all(link.status.get(k) == v for k, v in status.items()):
                del self._written[key]
