"""Repair within seconds: the operator follows its own table and tells its own writes from drift.

A shard or manifest deleted, edited or added by someone else would otherwise stay wrong until the
next resync. `follow_table` watches the routing-table ConfigMaps (their metadata only) and hands
every change to the publisher, whose pass executor asks `OwnWrites` whether the change is drift, and
if so re-reads the table and asks for a pass at once. Its own writes coming back through the watch
are not drift, so they never start a pass that would change nothing (and never start a loop of
passes answering themselves).
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from shortlink_core.backoff import Backoff
from shortlink_core.table_watch import WatchExpired
from shortlink_operator.kube import Kube, TableEvent

BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)
#: Versions remembered per ConfigMap: while the event loop is busy (a bulk create), the events of
#: several passes' writes may wait behind newer passes.
VERSIONS_KEPT: Final = 32

logger = logging.getLogger(__name__)


class OwnWrites:
    """The names the operator last planned for its table, and the versions it wrote.

    The watch reports metadata only (name and resourceVersion): the operator never parses back
    the shards it wrote itself, which at 100,000 links would cost as much as writing them. So a
    change is judged by its version. A version the operator wrote is its own; while a pass is
    writing, the event of a write may come back before the write's answer does, so events are
    held until the pass's writes are over and judged then. A deletion is the operator's own when
    the name is not planned (it deleted it), and drift when it is.
    """

    def __init__(self) -> None:
        #: The names the table should hold; None until a pass planned, so nothing counts before.
        self._planned: set[str] | None = None
        self._versions: dict[str, deque[str]] = {}
        self._writing = False
        self._held: list[TableEvent] = []

    def planned(self, names: Iterable[str]) -> None:
        """A pass is about to write: the table will hold exactly `names`."""
        self._planned = set(names)
        self._writing = True

    def written(self, versions: Mapping[str, str]) -> list[TableEvent]:
        """The pass's writes are over, the table's objects at `versions` (name to version);
        return the events held meanwhile that were not the operator's own."""
        for name, version in versions.items():
            seen = self._versions.setdefault(name, deque(maxlen=VERSIONS_KEPT))
            if not seen or seen[-1] != version:
                seen.append(version)
        self._writing = False
        held, self._held = self._held, []
        return [event for event in held if self._foreign(event)]

    def forget(self) -> None:
        """Stop judging (another operator writes now)."""
        self._planned, self._versions, self._writing, self._held = None, {}, False, []

    @property
    def judging(self) -> bool:
        """True once a pass planned the table (and until `forget`)."""
        return self._planned is not None

    def is_drift(self, event: TableEvent) -> bool:
        """True if `event` is drift; an event that cannot be judged yet is held (False)."""
        if self._planned is None:
            return False
        if self._writing and event.kind != "DELETED" and not self._own_version(event):
            self._held.append(event)
            return False
        return self._foreign(event)

    def _foreign(self, event: TableEvent) -> bool:
        if event.kind == "DELETED":
            return self._planned is not None and event.name in self._planned
        return not self._own_version(event)

    def _own_version(self, event: TableEvent) -> bool:
        return event.resource_version in self._versions.get(event.name, ())


async def follow_table(
    *, kube: Kube, changed: Callable[[TableEvent], None], restarted: Callable[[], None]
) -> None:
    """Pass every change of the table's ConfigMaps to `changed`, until cancelled.

    A watch started again from a new version may have missed changes: `restarted` is called
    then, so the caller can re-read the table.
    """
    backoff = Backoff(BACKOFF_SECONDS)
    while True:
        try:
            version = await kube.table_version()
            restarted()
            backoff.succeeded()
            while True:  # one watch after another, until the version expires
                async for event in kube.watch_table(version):
                    version = event.resource_version
                    if event.kind != "BOOKMARK":
                        changed(event)
        except asyncio.CancelledError:
            raise
        except WatchExpired:
            logger.info("routing-table watch expired; watching from a new version")
        except Exception as error:
            delay = backoff.failed()
            logger.warning(
                "cannot watch the routing table (%s); repairs wait for the resync until it "
                "works again, retrying in %s s",
                error,
                delay,
            )
            await asyncio.sleep(delay)
