"""The single writer of the routing table, ShortLink status and Events.

Changes to ShortLinks, policies and namespaces only `request()` a pass; the publisher gathers a
burst of them (debounce), takes one snapshot of the operator's indexes (`link_index`), and runs a
pass in clear steps: read the table (only after a resync, a repair or an error), plan, write the
shards whose bytes changed, then the manifest listing them (last, so a redirector that sees it has
seen every shard it lists; see `manifest`), write the statuses that changed (a bounded number at a
time), post Events for outcomes that changed.

The table's ConfigMaps are watched (`drift`): one deleted, edited or added by someone else is
repaired by a pass at once, not at the next resync; the operator's own writes start no pass.

Only the holder of the writer Lease runs passes (see `leadership`). A 409 from the API server
means someone else wrote a shard: the publisher re-reads the shards and plans again, never
overwriting blindly. A 429 waits as long as the server asks. A shard the API server refuses
(`Refused`: a 422, an admission webhook's denial) blocks nothing else: the other shards and every
status that does not describe it are written, and the refused shard is tried again after a backoff
while changes elsewhere keep flowing. Other errors (the API server away) back off and retry the
whole pass. Nothing is retried for a link that cannot be served, because that is an outcome
(`InvalidSpec`, `SlugConflict`, `CapacityExceeded`, ...), not an error.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from shortlink_core.api import API_VERSION, MANIFEST_NAME, PLURAL, POLICY_PLURAL
from shortlink_operator.conditions import describes
from shortlink_operator.config import OperatorConfig
from shortlink_operator.drift import OwnWrites
from shortlink_operator.kube import Conflict, Kube, Refused, Shard, TableEvent, Throttled
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import IndexedLink, Indexes
from shortlink_operator.manifest import ManifestEncoder
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.planning import Event, Plan, PlanConfig, plan
from shortlink_operator.policy import Policy
from shortlink_operator.table_state import TableReader

BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)
#: How long a pass writes statuses before it gives way to a change waiting for its own pass.
STATUS_SLICE_SECONDS: Final = 1.0
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a pass plans from: a snapshot of the operator's indexes."""

    links: Sequence[IndexedLink]
    policies: Sequence[Policy] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


Source = Callable[[], Inputs]


def inputs_of(indexes: Indexes) -> Inputs:
    """What the operator's indexes hold now."""
    return Inputs(
        links=indexes.links.snapshot(),
        policies=indexes.policies.snapshot(),
        namespace_labels={name: labels for (_, name), labels in indexes.namespaces.items()},
    )


def now() -> str:
    """The time as the API writes it (Events, the Lease)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


class Publisher:
    def __init__(
        self,
        *,
        kube: Kube,
        config: OperatorConfig,
        leadership: Leadership | None = None,
        indexes: Indexes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._indexes = indexes
        self._kube = kube
        self._metrics: OperatorMetrics = kube.metrics
        self._config = config
        self._leadership = leadership
        self._clock = clock
        self._wake = asyncio.Event()
        self._source: Source | None = None
        self._shards: dict[str, Shard] | None = None  # None: read them again before writing
        self._manifest: Shard | None = None  # as read with the shards, or written since
        self._manifests = ManifestEncoder()
        self._own = OwnWrites()
        self._reader = TableReader()
        # Statuses written but not yet seen back through the watch, so a pass in between does not
        # write them again (with a new lastTransitionTime).
        self._written: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._last_plan_seconds = 0.0
        # When an outcome changes by itself (activeFrom, expiresAt, a grace period ending).
        self._next_change: float | None = None
        #: Shards the API server refused in the last pass, and when to try them again.
        self.refused_shards: set[str] = set()
        self._retry_at: float | None = None
        # Re-list the indexes' objects and forget those gone (every resync, and after kopf
        # listed again following a watch gap).
        self._prune_due = False
        self._pruning: asyncio.Task[None] | None = None
        self.last_success: float | None = None
        self._settings = PlanConfig(
            base_url=config.public_base_url,
            shard_count=config.shard_count,
            slug_key=config.slug_key.encode(),
            shard_budget=config.shard_budget_bytes,
            grace_seconds=config.slug_grace_seconds,
        )
        # The alert on shard fill divides by this: it must be the budget the planner keeps to.
        self._metrics.shard_capacity.set(config.shard_budget_bytes)

    def request(self, source: Source) -> None:
        """Ask for a pass over what `source` returns (the complete, current inputs)."""
        self._source = source
        self._wake.set()

    def relisted(self, kind: str) -> None:
        """kopf listed `kind` again after a watch gap: forget what was deleted meanwhile now,
        rather than at the next resync."""
        logger.info("kopf listed %s again after a watch gap; re-listing to forget deletions", kind)
        self._prune_due = True
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; the first pass waits until every link is known."""
        try:
            await self._loop()
        finally:
            if self._pruning is not None:
                self._pruning.cancel()
                await asyncio.gather(self._pruning, return_exceptions=True)

    async def _loop(self) -> None:
        await self._seed()
        failures = refusals = 0
        leading = self._leadership is None
        resync_at = time.monotonic() + self._config.resync_seconds
        first = True  # look at the Lease at once, so a standby is known to be one from the start
        while True:
            with contextlib.suppress(TimeoutError):
                timeout = 0 if first else self._timeout(resync_at)
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            first = False
            if time.monotonic() >= resync_at:
                self._shards = None  # periodic resync: repair anything changed behind our back
                self._prune_due = True  # ... and forget objects whose deletion the watch missed
                resync_at = time.monotonic() + self._config.resync_seconds
                self._wake.set()
            if self._prune_due and (self._pruning is None or self._pruning.done()):
                # Beside the passes, not before them: at 10,000 links the listing takes a while.
                self._prune_due = False
                self._pruning = asyncio.create_task(self._prune(), name="shortlink-prune")
            if self._next_change is not None and self._next_change <= self._clock():
                self._wake.set()  # a time passed (a grace period, activeFrom, expiresAt)
            if self._retry_at is not None and self._retry_at <= time.monotonic():
                self._retry_at, self._shards = None, None  # try the refused shards again
                self._wake.set()
            try:
                if self._leadership is not None and not await self._leadership.ensure():
                    if leading:
                        logger.info("another operator holds the writer Lease; standing by")
                    leading = False
                    self._own.forget()  # the table changes now are the other operator's writes
                    # Changes keep `_wake` set while we stand by: look at the Lease only so often.
                    await asyncio.sleep(self._leadership.renew_interval)
                    continue
                if not leading:
                    logger.info("holding the writer Lease; publishing")
                    leading, self._shards = True, None
                    self._wake.set()
                source = self._source
                if source is None:
                    self._wake.clear()  # nothing to publish before kopf has filled the index
                if source is None or not self._wake.is_set():
                    continue
                # Gather a burst; and after a long plan (a big table) wait as long again, so a
                # stream of changes (thousands of links applied at once) leaves kopf half the CPU.
                await asyncio.sleep(max(self._config.debounce_seconds, self._last_plan_seconds))
                self._wake.clear()
                await self.publish(source())
                failures = 0
                if self.refused_shards:
                    # Only those shards wait; a change anywhere still gets its pass at once.
                    self._metrics.passes.labels("error").inc()
                    delay = BACKOFF_SECONDS[min(refusals, len(BACKOFF_SECONDS) - 1)]
                    refusals += 1
                    self._retry_at = time.monotonic() + delay
                else:
                    refusals, self._retry_at = 0, None
                    self._metrics.passes.labels("success").inc()
            except Conflict:
                self._metrics.passes.labels("conflict").inc()
                logger.info("a routing-table shard changed underneath; re-reading and planning")
                self._shards = None
                self._wake.set()
            except Throttled as throttled:
                self._metrics.passes.labels("error").inc()
                logger.warning(
                    "the API server asks to slow down; waiting %s s", throttled.retry_after
                )
                self._shards = None
                await asyncio.sleep(throttled.retry_after)
                self._wake.set()
            except Exception:
                self._metrics.passes.labels("error").inc()
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                logger.exception("publishing the routing table failed; retrying in %s s", delay)
                self._shards = None
                await asyncio.sleep(delay)
                self._wake.set()

    async def _seed(self) -> None:
        """Read every ShortLink, policy and namespace once, so the first pass knows them all.

        Retried until it works. Then a pass is asked for even if no event ever comes (no links at
        all), which removes whatever an earlier run left in the table.
        """
        indexes = self._indexes
        if indexes is None or indexes.complete:
            return
        failures = 0
        while True:
            try:
                for index, listing in (
                    (indexes.links, await self._kube.list_shortlinks()),
                    (indexes.policies, await self._kube.list_policies()),
                    (indexes.namespaces, await self._kube.list_namespaces()),
                ):
                    index.seed(listing.items, version=listing.resource_version)
                logger.info("%d ShortLinks known; publishing", len(indexes.links))
                self.request(lambda: inputs_of(indexes))
                return
            except Exception as error:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                logger.warning("cannot list ShortLinks (%s); retrying in %s s", error, delay)
                await asyncio.sleep(delay)

    async def _prune(self) -> None:
        """List the names of every ShortLink, policy and namespace, and forget the ones gone.

        kopf never reports a deletion that happened during a watch gap (it lists again and
        yields what exists), so without this a deleted link stayed planned and served until
        the operator restarted. Metadata only: cheap enough for every resync. A failure waits
        for the next resync.
        """
        indexes = self._indexes
        if indexes is None or not indexes.complete:
            return
        gone = False
        try:
            for index, (version, plural) in (
                (indexes.links, (API_VERSION, PLURAL)),
                (indexes.policies, (API_VERSION, POLICY_PLURAL)),
                (indexes.namespaces, ("v1", "namespaces")),
            ):
                present, snapshot = await self._kube.list_present(version, plural)
                gone |= index.prune(present, version=snapshot)
        except Exception as error:
            logger.warning(
                "cannot re-list to forget deleted objects (%s); at the next resync", error
            )
        if gone:
            logger.info("forgot objects deleted while the watch was away; publishing")
            self.request(lambda: inputs_of(indexes))

    async def stop(self) -> None:
        if self._leadership is not None:
            await self._leadership.release()

    def _timeout(self, resync_at: float) -> float:
        timeout = resync_at - time.monotonic()
        if self._leadership is not None:
            timeout = min(timeout, self._leadership.renew_interval)
        if self._next_change is not None:
            timeout = min(timeout, self._next_change - self._clock() + 0.5)
        if self._retry_at is not None:
            timeout = min(timeout, self._retry_at - time.monotonic())
        return max(timeout, 0.05)

    async def publish(self, inputs: Inputs | Iterable[IndexedLink]) -> None:
        """One pass: bring the shards, statuses and Events in line with `inputs`."""
        if not isinstance(inputs, Inputs):
            inputs = Inputs(links=list(inputs))
        self._forget_seen_statuses(inputs.links)
        shards = await self._current_shards()
        started = time.monotonic()
        wanted = self._plan(inputs, shards)
        self._last_plan_seconds = time.monotonic() - started
        self._metrics.plan_duration.observe(self._last_plan_seconds)
        self._own.planned([*wanted.shards, MANIFEST_NAME])
        try:
            table_written, self.refused_shards = await self._write_shards(shards, wanted.shards)
            table_written = await self._write_manifest(shards) or table_written
        finally:  # judge the watch events held while writing, now the versions written are known
            versions = {name: shard.resource_version for name, shard in shards.items()}
            if self._manifest is not None:
                versions[MANIFEST_NAME] = self._manifest.resource_version
            self._repair(self._own.written(versions))
        # A status describing a refused shard would claim a table that is not there: keep it
        # (and its Events) for the pass that writes the shard.
        withheld = {
            key
            for key, names in wanted.depends_on.items()
            if key in wanted.statuses and not names.isdisjoint(self.refused_shards)
        }
        statuses = {k: v for k, v in wanted.statuses.items() if k not in withheld}
        unwritten = await self._write_statuses(statuses) | withheld
        await self._post_events([event for event in wanted.events if event.cause not in unwritten])
        self._next_change = wanted.next_change
        self.last_success = time.time()
        self._observe(inputs.links, wanted.shards, table_written=table_written)

    def _observe(
        self,
        links: Sequence[IndexedLink],
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

    async def _current_shards(self) -> dict[str, Shard]:
        if self._shards is None:
            shards = await self._kube.list_shards()
            self._manifest = shards.pop(MANIFEST_NAME, None)
            self._shards = shards
        return self._shards

    async def _write_manifest(self, shards: Mapping[str, Shard]) -> bool:
        """List `shards` as they are now in the manifest (after every shard write); True if written.

        Built from what the cluster holds, not from the plan: a shard whose write failed is listed
        with the copy it still has.
        """
        data = self._manifests.encode({name: shard.data for name, shard in shards.items()})
        current = self._manifest
        if current is None:
            manifest = await self._kube.create_shard(MANIFEST_NAME, data)
        elif current.data != data:
            manifest = await self._kube.update_shard(current, data)
        else:
            manifest = current
        self._manifest = manifest
        return manifest is not current

    def table_changed(self, event: TableEvent) -> None:
        """A routing-table ConfigMap changed: unless this operator did it, repair it now."""
        if self._own.is_drift(event):
            self._repair([event])

    def _repair(self, drift: Sequence[TableEvent]) -> None:
        for event in drift:
            self._metrics.table_repairs.inc()
            what = "deleted" if event.kind == "DELETED" else "changed"
            logger.info(
                "routing-table ConfigMap %s was %s by someone else; repairing", event.name, what
            )
        if drift:
            self._shards = None
            self._wake.set()

    def table_restarted(self) -> None:
        """The table watch started again and may have missed changes: re-read before writing."""
        if self._own.judging:
            self._shards = None
            self._wake.set()

    def _plan(self, inputs: Inputs, shards: Mapping[str, Shard]) -> Plan:
        return plan(
            inputs.links,
            settings=self._settings,
            now=self._clock(),
            status_of=lambda link: self._written.get(link.key, link.status),
            table=self._reader.read({name: shard.data for name, shard in shards.items()}),
            policies=inputs.policies,
            namespace_labels=inputs.namespace_labels,
        )

    async def _write_shards(
        self, shards: dict[str, Shard], wanted: Mapping[str, Mapping[str, str]]
    ) -> tuple[bool, set[str]]:
        """Create, update and delete shards until they are `wanted`.

        Returns whether anything changed, and the shards the API server refused: one refused
        write does not stop the others.
        """
        written, refused = False, set()
        # Deletions last, so a link moving to another shard is always in one of the two.
        for name in [*wanted, *sorted(set(shards) - set(wanted))]:
            current, data = shards.get(name), wanted.get(name)
            try:
                if data is None:
                    assert current is not None
                    await self._kube.delete_shard(current)
                    del shards[name]
                elif current is None:
                    shards[name] = await self._kube.create_shard(name, data)
                elif current.data != data:
                    shards[name] = await self._kube.update_shard(current, data)
                else:
                    continue
                written = True
            except Refused as error:
                refused.add(name)
                logger.error("the API server refused routing-table shard %s: %s", name, error)
        return written, refused

    async def _write_statuses(
        self, statuses: Mapping[tuple[str, str], dict[str, Any]]
    ) -> set[tuple[str, str]]:
        """Write `statuses` a few at a time; return the keys of those left for the next pass.

        Thousands of statuses take many seconds to write. Once a change is waiting, and this pass
        has written statuses for `STATUS_SLICE_SECONDS`, no new write starts: the change gets its
        pass, and its table write, now; that pass plans the statuses not yet written again.
        """
        written: set[tuple[str, str]] = set()
        started = time.monotonic()

        def give_way() -> bool:
            return self._wake.is_set() and time.monotonic() - started >= STATUS_SLICE_SECONDS

        async def write(key: tuple[str, str], status: dict[str, Any]) -> None:
            await self._kube.patch_status(key[0], key[1], status)
            self._written[key] = status
            written.add(key)

        await _bounded(
            (write(key, status) for key, status in statuses.items()),
            limit=self._config.status_concurrency,
            stop=give_way,
        )
        return set(statuses) - written

    async def _post_events(self, events: Sequence[Event]) -> None:
        timestamp = now()

        async def post(event: Event) -> None:
            try:
                await self._kube.post_event(
                    namespace=event.namespace,
                    name=event.name,
                    uid=event.uid,
                    type=event.type,
                    reason=event.reason,
                    message=event.message,
                    now=timestamp,
                )
            except Exception as error:  # an Event is a courtesy: never retry a pass for one
                logger.warning("could not post Event %s on %s: %s", event.reason, event.name, error)

        await _bounded(map(post, events), limit=self._config.status_concurrency)

    def _forget_seen_statuses(self, links: Sequence[IndexedLink]) -> None:
        present = {link.key: link for link in links}
        for key, status in list(self._written.items()):
            link = present.get(key)
            if link is None or describes(link.status, status):
                del self._written[key]


async def _bounded(
    calls: Iterable[Coroutine[Any, Any, None]],
    *,
    limit: int,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Await `calls` with at most `limit` in flight; start no more once `stop()` says so or a call
    failed, and raise the first error.

    Thousands of status writes one after another take minutes; all at once would swamp the API
    server (and draw 429s). A few workers pulling from one lazy iterator keep both busy without
    creating a task per write.
    """
    pending = iter(calls)
    errors: list[Exception] = []

    async def worker() -> None:
        for call in pending:
            if errors or stop():
                call.close()  # never started: close it so Python does not warn it was not awaited
                continue
            try:
                await call
            except Exception as error:
                errors.append(error)

    await asyncio.gather(*(worker() for _ in range(limit)))
    if errors:
        raise errors[0]
