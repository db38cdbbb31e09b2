"""The single writer of the routing table, ShortLink status, Events and declared ShortLinks: the
parts, wired.

Changes to ShortLinks, policies, namespaces and the objects links name only `request()` a pass.
The publisher is three parts with one concept each, and this module only connects them:
- `scheduler`: WHEN a pass runs (wake, debounce, the writer Lease, resync, backoff after errors
  and refused shards, the next time-based change);
- `executor`: WHAT a pass does (read the shards, plan, write the shards and the manifest, hand
  the statuses and Events to the `status_writer` that writes them beside the passes, then write
  the ShortLinks annotations declare, see `declaring`);
- `seeding`: filling the indexes once at start-up, and forgetting objects whose deletion the
  watch missed (at every resync, and as soon as kopf lists a kind again, see `relisted`).

The table's ConfigMaps are watched (`drift`): one deleted, edited or added by someone else is
repaired by a pass at once, not at the next resync; the operator's own writes start no pass.
Metrics are passed in (`metrics`), the same registry the operator serves.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from shortlink_operator.config import OperatorConfig
from shortlink_operator.executor import PassExecutor, PassResult, now
from shortlink_operator.inputs import Inputs, Source, inputs_of, referenced_by
from shortlink_operator.kube import Kube, TableEvent
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import IndexedLink, Indexes
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.scheduler import Hooks, Scheduler
from shortlink_operator.seeding import prune, seed

__all__ = ["Inputs", "Publisher", "Source", "inputs_of", "now", "referenced_by"]

logger = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self,
        *,
        kube: Kube,
        config: OperatorConfig,
        metrics: OperatorMetrics,
        leadership: Leadership | None = None,
        indexes: Indexes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`indexes`, when given, are seeded before the first pass and pruned at every resync;
        `clock` is the wall clock that plans (activeFrom, expiresAt, grace periods) are made on."""
        self._kube = kube
        self._indexes = indexes
        self._leadership = leadership
        self._source: Source | None = None
        self._scheduler = Scheduler(
            debounce_seconds=config.debounce_seconds,
            resync_seconds=config.resync_seconds,
            metrics=metrics,
            leadership=leadership,
            clock=clock,
        )
        self._executor = PassExecutor(
            kube=kube,
            config=config,
            metrics=metrics,
            wake=self._scheduler.wake,
            may_write=lambda: leadership is None or leadership.holding,
            complete=lambda: indexes is not None and indexes.complete,
            clock=clock,
        )
        self._pruning: asyncio.Task[None] | None = None
        self._prune_again = False  # asked for while one runs: it runs once more afterwards

    @property
    def refused_shards(self) -> set[str]:
        """Shards the API server refused in the last pass (tried again after a backoff)."""
        return self._executor.refused_shards

    @property
    def last_success(self) -> float | None:
        """When the last pass ended (wall clock): the liveness probe's `lastPublished`."""
        return self._executor.last_success

    def request(self, source: Source) -> None:
        """Ask for a pass over what `source` returns (the complete, current inputs)."""
        self._source = source
        self._scheduler.wake()

    def relisted(self, kind: str) -> None:
        """kopf listed `kind` again after a watch gap: forget what was deleted meanwhile now,
        rather than at the next resync."""
        logger.info("kopf listed %s again after a watch gap; re-listing to forget deletions", kind)
        self._prune()

    def table_changed(self, event: TableEvent) -> None:
        """A routing-table ConfigMap changed: unless this operator did it, repair it now."""
        self._executor.table_changed(event)

    def table_restarted(self) -> None:
        """The table watch started again and may have missed changes: re-read before writing."""
        self._executor.table_restarted()

    async def publish(self, inputs: Inputs | Iterable[IndexedLink]) -> PassResult:
        """One pass, and its statuses and Events written: bring everything in line with
        `inputs` (for callers that run passes themselves; `run` never waits for statuses)."""
        result = await self._executor.run(inputs)
        await self._executor.statuses_written()
        return result

    async def run(self) -> None:
        """Publish until cancelled; the first pass waits until every link is known."""
        try:
            indexes = self._indexes
            if indexes is not None and not indexes.complete:
                await seed(kube=self._kube, indexes=indexes)
                self.request(lambda: inputs_of(indexes))
            await self._scheduler.run(
                Hooks(
                    publish=self._publish_requested,
                    ready=lambda: self._source is not None,
                    reread=self._executor.reread,
                    stand_by=self._executor.stand_by,
                    resync=self._prune,
                )
            )
        finally:
            await self._executor.close()
            if self._pruning is not None:
                self._pruning.cancel()
                await asyncio.gather(self._pruning, return_exceptions=True)

    async def stop(self) -> None:
        if self._leadership is not None:
            await self._leadership.release()

    async def _publish_requested(self) -> PassResult:
        assert self._source is not None  # the scheduler runs a pass only when `ready`
        return await self._executor.run(self._source())

    def _prune(self) -> None:
        """Forget indexed objects the API server no longer has, beside the passes (at 10,000
        links the listing takes a while); a pass follows if any was forgotten."""
        if self._indexes is None:
            return
        if self._pruning is not None and not self._pruning.done():
            self._prune_again = True
            return
        self._pruning = asyncio.create_task(
            self._prune_until_done(self._indexes), name="shortlink-prune"
        )

    async def _prune_until_done(self, indexes: Indexes) -> None:
        while True:
            self._prune_again = False
            if await prune(kube=self._kube, indexes=indexes):
                self.request(lambda: inputs_of(indexes))
            if not self._prune_again:
                return
