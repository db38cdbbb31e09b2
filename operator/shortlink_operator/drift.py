"""Repair within seconds: the operator follows its own table and tells its own writes from drift.

A shard or manifest deleted, edited or added by someone else would otherwise stay wrong until the
next resync. `follow_table` watches the routing-table ConfigMaps and hands every change to the
publisher, which asks `OwnWrites` whether the change is drift, and if so re-reads the table and
runs a pass at once. Its own writes coming back through the watch are not drift, so they never
start a pass that would change nothing (and never start a loop of passes answering themselves).
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from shortlink_operator.kube import Kube, TableEvent, WatchExpired

BACKOFF_SECONDS: Final = (0.5, 1, 2, 4, 8, 15, 30)
#: Versions remembered per ConfigMap: while the event loop is busy (a bulk create), the events of
#: several passes' writes may wait behind newer passes.
VERSIONS_KEPT: Final = 32

logger = logging.getLogger(__name__)


class OwnWrites:
    """What the operator last planned for each table ConfigMap, and the versions it saw.

    A change is the operator's own when it brings what the current pass planned (the event may
    come back before the write's answer does), or when it is a version the operator recently
    read or wrote (an event of an earlier pass's write, arriving late). Anything else is drift.
    """

    def __init__(self) -> None:
        #: Name to planned data; None until a pass planned, so nothing counts as drift before.
        self._expected: dict[str, Mapping[str, str]] | None = None
        self._versions: dict[str, deque[str]] = {}

    def planned(self, objects: Mapping[str, Mapping[str, str]]) -> None:
        """A pass is about to make the table hold exactly `objects` (name to data)."""
        self._expected = dict(objects)

    def expect(self, name: str, data: Mapping[str, str]) -> None:
        """The pass also plans `name` to hold `data` (the manifest, planned after the shards)."""
        if self._expected is not None:
            self._expected[name] = data

    def known(self, versions: Mapping[str, str]) -> None:
        """The table as the operator read or wrote it: name to resourceVersion."""
        for name, version in versions.items():
            seen = self._versions.setdefault(name, deque(maxlen=VERSIONS_KEPT))
            if not seen or seen[-1] != version:
                seen.append(version)

    def forget(self) -> None:
        """Stop judging (another operator writes now)."""
        self._expected, self._versions = None, {}

    @property
    def judging(self) -> bool:
        """True once a pass planned the table (and until `forget`)."""
        return self._expected is not None

    def is_drift(self, event: TableEvent) -> bool:
        if self._expected is None:
            return False
        wanted = self._expected.get(event.name)
        if (event.data is None and wanted is None) or (
            event.data is not None and event.data == wanted
        ):
            return False
        return event.resource_version not in self._versions.get(event.name, ())


async def follow_table(
    *, kube: Kube, changed: Callable[[TableEvent], None], restarted: Callable[[], None]
) -> None:
    """Pass every change of the table's ConfigMaps to `changed`, until cancelled.

    A watch started again from a new version may have missed changes: `restarted` is called
    then, so the caller can re-read the table.
    """
    failures = 0
    while True:
        try:
            version = await kube.table_version()
            restarted()
            failures = 0
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
            delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
            failures += 1
            logger.warning(
                "cannot watch the routing table (%s); repairs wait for the resync until it "
                "works again, retrying in %s s",
                error,
                delay,
            )
            await asyncio.sleep(delay)
