"""One pass: what the publisher does each time the scheduler says a pass is due.

A pass runs in clear steps: read the table (only after a resync, a repair or an error), plan
(with `incremental.Planner`, which redoes only what changed since the last pass, planning from
the statuses written or on their way), write the shards whose bytes changed (a few at a time),
then the manifest listing them (last, so a redirector that sees it has seen every shard it lists;
see `manifest`), hand the statuses that changed and the Events announcing them to the status
writer (`status_writer`, which writes them beside the next passes: a pass never waits for them),
then create, patch and delete the ShortLinks that annotations declare (`declaring`). While a pass
writes the table no status write starts, and the writes in flight of the links it changes are
waited for first, so a status never describes an older table than the one written.

A shard the API server refuses (`Refused`: a 422, an admission webhook's denial) blocks nothing
else: the other shards and every status that does not describe it are written, and the pass
reports it so the scheduler tries it again after a backoff. Any other error leaves the pass
(`Conflict`, `Throttled`, the API server away), and the scheduler decides when to try again; the
executor only forgets the table it read, so the next pass reads it afresh. A status write that
fails is the status writer's to try again. Nothing is retried for a link that cannot be served,
because that is an outcome (`InvalidSpec`, `SlugConflict`, `CapacityExceeded`, ...), not an
error.

The executor also judges the table watch's events (`drift`): a ConfigMap deleted, edited or added
by someone else makes it re-read the table and ask for a pass at once.
"""

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from shortlink_core.api import MANIFEST_NAME
from shortlink_operator.bounded import bounded
from shortlink_operator.conditions import describes
from shortlink_operator.config import OperatorConfig
from shortlink_operator.declaring import DeclaredLinkWriter
from shortlink_operator.drift import OwnWrites
from shortlink_operator.incremental import Planner
from shortlink_operator.inputs import Inputs
from shortlink_operator.kube import Kube, Refused, Shard, TableEvent
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.manifest import ManifestEncoder
from shortlink_operator.metrics import OperatorMetrics, ready_reason
from shortlink_operator.planning import Event, Plan, PlanConfig
from shortlink_operator.status_writer import StatusWriter
from shortlink_operator.table_state import TableReader

#: Shard writes in flight at once.
SHARD_CONCURRENCY: Final = 4
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

logger = logging.getLogger(__name__)


def _differs(current: Shard | None, data: Mapping[str, str]) -> bool:
    return current is None or current.data != data


def now() -> str:
    """The time as the API writes it (Events, the Lease)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class PassResult:
    """What the scheduler needs to know about a pass that ran to its end."""

    #: Shards the API server refused: written again after a backoff.
    refused: frozenset[str]
    #: When an outcome changes by itself (activeFrom, expiresAt, a grace period ending), on the
    #: wall clock; None if never.
    next_change: float | None
    #: How long planning took: after a long plan the scheduler waits as long again.
    plan_seconds: float


class PassExecutor:
    def __init__(
        self,
        *,
        kube: Kube,
        config: OperatorConfig,
        metrics: OperatorMetrics,
        wake: Callable[[], None],
        may_write: Callable[[], bool] = lambda: True,
        complete: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`wake` asks the scheduler for a pass (drift to repair, statuses dropped); `may_write`
        says whether this process still holds the writer Lease (the status writer asks before
        each write); `complete` whether every kind has been listed (only then are declared links
        written: none is deleted for an object not yet seen); `clock` is the wall clock."""
        self._kube = kube
        self._metrics = metrics
        self._status_concurrency = config.status_concurrency
        self._wake = wake
        self._clock = clock
        self._complete = complete
        self._declared = DeclaredLinkWriter(
            kube=kube, concurrency=config.status_concurrency, now=now
        )
        self._shards: dict[str, Shard] | None = None  # None: read them again before writing
        self._manifest: Shard | None = None  # as read with the shards, or written since
        self._manifests = ManifestEncoder()
        self._own = OwnWrites()
        self._reader = TableReader()
        self._planner = Planner()
        # Statuses written but not yet seen back through the watch, so a pass in between does not
        # write them again (with a new lastTransitionTime).
        self._written: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._statuses = StatusWriter(
            kube=kube,
            concurrency=config.status_concurrency,
            post_event=self._post_event,
            written=self._written.__setitem__,
            may_write=may_write,
            wake=wake,
        )
        self._reasons: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
        #: Shards the API server refused in the last pass.
        self.refused_shards: set[str] = set()
        #: When the last pass ended (wall clock), for the liveness probe and the metrics.
        self.last_success: float | None = None
        self._settings = PlanConfig(
            base_url=config.public_base_url,
            shard_count=config.shard_count,
            slug_key=config.slug_key.encode(),
            shard_budget=config.shard_budget_bytes,
            grace_seconds=config.slug_grace_seconds,
        )
        metrics.status_backlog.set_function(lambda: self._statuses.backlog)
        # The alert on shard fill divides by this: it must be the budget the planner keeps to.
        metrics.shard_capacity.set(config.shard_budget_bytes)

    def reread(self) -> None:
        """Read the table again before the next write (a resync, an error, a new leadership)."""
        self._shards = None

    def stand_by(self) -> None:
        """Another operator writes now: its writes coming back are not drift to repair, and the
        statuses queued are its to write."""
        self._own.forget()
        self._statuses.abandon()

    async def statuses_written(self) -> None:
        """Wait until the statuses (and Events) handed over so far are written."""
        await self._statuses.drained()

    async def close(self) -> None:
        """Stop writing statuses (shutting down)."""
        await self._statuses.close()

    def table_changed(self, event: TableEvent) -> None:
        """A routing-table ConfigMap changed: unless this operator did it, repair it now."""
        if self._own.is_drift(event):
            self._repair([event])

    def table_restarted(self) -> None:
        """The table watch started again and may have missed changes: re-read before writing."""
        if self._own.judging:
            self._shards = None
            self._wake()

    async def run(self, inputs: Inputs | Iterable[IndexedLink]) -> PassResult:
        """One pass: bring the shards, statuses and Events in line with `inputs`."""
        if not isinstance(inputs, Inputs):
            inputs = Inputs(links=list(inputs))
        self._forget_seen_statuses(inputs.links)
        shards = await self._current_shards()
        loop = asyncio.get_running_loop()
        started = loop.time()
        wanted = self._plan(inputs, shards)
        plan_seconds = loop.time() - started
        self._metrics.plan_duration.observe(plan_seconds)
        self._own.planned([*wanted.shards, MANIFEST_NAME])
        try:
            # The table first: no status write starts meanwhile, and one in flight for a link
            # this plan changes lands before the table that changes it.
            await self._statuses.hold(wanted.statuses.keys())
            table_written, self.refused_shards = await self._write_shards(
                shards, wanted.shards, wanted.served
            )
            table_written = await self._write_manifest(shards) or table_written
            # A status describing a refused shard would claim a table that is not there: keep
            # it (and its Events) for the pass that writes the shard.
            withheld = {
                key
                for key, names in (wanted.depends_on.items() if self.refused_shards else ())
                if key in wanted.statuses and not names.isdisjoint(self.refused_shards)
            }
            self._statuses.offer(
                {k: v for k, v in wanted.statuses.items() if k not in withheld},
                [event for event in wanted.events if event.cause not in withheld],
            )
        finally:  # judge the watch events held while writing, now the versions written are known
            self._statuses.release()
            versions = {name: shard.resource_version for name, shard in shards.items()}
            if self._manifest is not None:
                versions[MANIFEST_NAME] = self._manifest.resource_version
            self._repair(self._own.written(versions))
        if self._complete():
            await self._declared.write(inputs)
        self.last_success = time.time()
        self._observe(
            inputs.links, wanted.shards, table_written=table_written, entries=wanted.entries
        )
        if len(self._reasons) > len(inputs.links):  # links went: forget their reasons
            present = {link.key for link in inputs.links}
            for key in [key for key in self._reasons if key not in present]:
                del self._reasons[key]
        return PassResult(frozenset(self.refused_shards), wanted.next_change, plan_seconds)

    def _reason_of(self, link: IndexedLink) -> str:
        """The `Ready` reason of the link's status as it will be (`_status_of`: queued for the
        status writer, written or seen), remembered for each status object: a pass at 100,000
        links must not look through every status again. Not the written status alone: the
        metric is refreshed only by passes, and a status written later starts none."""
        status = self._status_of(link)
        known = self._reasons.get(link.key)
        if known is None or known[0] is not status:
            known = self._reasons[link.key] = (status, ready_reason(status))
        return known[1]

    def _observe(
        self,
        links: Sequence[IndexedLink],
        shards: Mapping[str, Mapping[str, str]],
        *,
        table_written: bool,
        entries: Mapping[str, int] | None = None,
    ) -> None:
        """Metrics of a successful pass (kept apart from publishing itself)."""
        assert self.last_success is not None
        self._metrics.count_links(map(self._reason_of, links))
        self._metrics.observe_shards(shards, entries)
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

    def _repair(self, drift: Sequence[TableEvent]) -> None:
        for event in drift:
            self._metrics.table_repairs.inc()
            what = "deleted" if event.kind == "DELETED" else "changed"
            logger.info(
                "routing-table ConfigMap %s was %s by someone else; repairing", event.name, what
            )
        if drift:
            self._shards = None
            self._wake()

    def _plan(self, inputs: Inputs, shards: Mapping[str, Shard]) -> Plan:
        # A plan makes millions of short-lived, acyclic objects: each burst of them made the
        # cyclic collector walk the whole heap (every link) again, a fifth of a pass at 100,000
        # links. Nothing else runs while the plan does, and what it leaves is freed by counting.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._plan_now(inputs, shards)
        finally:
            if collecting:
                gc.enable()

    def _plan_now(self, inputs: Inputs, shards: Mapping[str, Shard]) -> Plan:
        return self._planner.plan(
            inputs.links,
            settings=self._settings,
            now=self._clock(),
            status_of=self._status_of,
            table=self._reader.read({name: shard.data for name, shard in shards.items()}),
            policies=inputs.policies,
            namespace_labels=inputs.namespace_labels,
            referents=inputs.referents,
        )

    def _status_of(self, link: IndexedLink) -> Mapping[str, Any]:
        """The link's status as it will be: queued, being written, written or seen."""
        pending = self._statuses.pending(link.key)
        if pending is not None:
            return pending
        return self._written.get(link.key, link.status)

    async def _write_shards(
        self,
        shards: dict[str, Shard],
        wanted: Mapping[str, Mapping[str, str]],
        served: Mapping[str, Mapping[str, tuple[str, str]]],
    ) -> tuple[bool, set[str]]:
        """Create, update and delete shards until they are `wanted`.

        Returns whether anything changed, and the shards the API server refused: one refused
        write does not stop the others.
        """
        written, refused = False, set[str]()

        async def write(name: str) -> None:
            nonlocal written
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
                    return
                if data is not None and name in served:  # the reader need not decode it
                    self._reader.written(name, shards[name].data, served[name])
                written = True
            except Refused as error:
                refused.add(name)
                logger.error("the API server refused routing-table shard %s: %s", name, error)

        # A bulk change rewrites every shard: a few at a time, so the pass (and a change waiting
        # for the next one) does not wait for each write in turn. Deletions last, so a link
        # moving to another shard is always in one of the two.
        changed = [name for name, data in wanted.items() if _differs(shards.get(name), data)]
        await bounded(map(write, changed), limit=SHARD_CONCURRENCY)
        await bounded(map(write, sorted(set(shards) - set(wanted))), limit=SHARD_CONCURRENCY)
        return written, refused

    async def _post_event(self, event: Event) -> None:
        try:
            await self._kube.post_event(
                namespace=event.namespace,
                name=event.name,
                uid=event.uid,
                type=event.type,
                reason=event.reason,
                message=event.message,
                now=now(),
                kind=event.kind,
                api_version=event.api_version,
            )
        except Exception as error:  # an Event is a courtesy: never retry anything for one
            logger.warning("could not post Event %s on %s: %s", event.reason, event.name, error)

    def _forget_seen_statuses(self, links: Sequence[IndexedLink]) -> None:
        present = {link.key: link for link in links}
        for key, status in list(self._written.items()):
            link = present.get(key)
            if link is None or describes(link.status, status):
                del self._written[key]
