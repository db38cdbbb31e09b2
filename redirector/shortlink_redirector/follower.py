"""Keeps the served table in step with the routing-table ConfigMaps.

List once, then watch from the list's resourceVersion; every change rebuilds only the changed
shard's part of the table and swaps the new table in. When the API server is unreachable, or a
shard cannot be decoded, the last good table (and the last good copy of that shard) stays in
service: the redirector never goes blank because of the control plane.
"""

import asyncio
import gc
import logging
import time
from collections.abc import Mapping
from typing import Final

from shortlink_core.table import TableFormatError, decode_shard
from shortlink_redirector.kube import ShardSource, WatchExpired
from shortlink_redirector.state import RedirectorState
from shortlink_redirector.table import EMPTY_TABLE, RoutingTable, ShardContent

BACKOFF_SECONDS: Final = (0.2, 0.5, 1, 2, 4, 8)

logger = logging.getLogger(__name__)


class TableFollower:
    def __init__(self, *, source: ShardSource, state: RedirectorState) -> None:
        self._source = source
        self._state = state

    async def run(self) -> None:
        """Follow the table until cancelled; errors are logged and retried with backoff."""
        failures = 0
        while True:
            try:
                snapshot = await self._source.list()
                load_all(self._state, snapshot.shards)
                failures = 0
                resource_version = snapshot.resource_version
                while True:  # one watch after another, until the version expires
                    async for event in self._source.watch(resource_version):
                        resource_version = event.resource_version
                        if event.kind == "DELETED":
                            apply_shard(self._state, event.name, {})
                        elif event.kind in ("ADDED", "MODIFIED"):
                            apply_shard(self._state, event.name, event.data)
            except asyncio.CancelledError:
                raise
            except WatchExpired:
                logger.info("routing-table watch expired; listing again")
            except Exception as error:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                logger.warning(
                    "cannot follow the routing table (%s); serving the last good table "
                    "(%d links) and retrying in %s s",
                    error,
                    len(self._state.table),
                    delay,
                )
                await asyncio.sleep(delay)


def load_all(state: RedirectorState, shards: Mapping[str, Mapping[str, str]]) -> None:
    """Serve exactly `shards` (a complete listing), and mark the redirector ready."""
    table = state.table if state.ready else EMPTY_TABLE
    changes: dict[str, ShardContent] = dict.fromkeys(set(table.shards) - set(shards), ((), 0))
    for name, data in sorted(shards.items()):
        content = _content(state, name, data)
        if content is not None:
            changes[name] = content
    _swap(state, _with(state, table, changes))
    state.ready = True
    state.metrics.table_loaded.set(1)


def apply_shard(state: RedirectorState, name: str, data: Mapping[str, str]) -> None:
    """Serve shard `name` as `data` says from now on; empty `data` means it was deleted."""
    content = _content(state, name, data)
    if content is not None:
        _swap(state, _with(state, state.table, {name: content}))


def _content(state: RedirectorState, name: str, data: Mapping[str, str]) -> ShardContent | None:
    """The routes of a shard's `data`, or None to keep its last good version."""
    if not data:
        return (), 0
    metrics = state.metrics
    try:
        decoded = decode_shard(data)
    except TableFormatError as error:
        metrics.table_load_failures.inc()
        logger.error("shard %s not loaded, keeping its last good version: %s", name, error)
        return None
    for rejected in decoded.rejected:
        metrics.table_load_failures.inc()
        logger.error("shard %s: entry not served: %s", name, rejected)
    return decoded.routes, sum(len(key) + len(value.encode()) for key, value in data.items())


def _with(
    state: RedirectorState, table: RoutingTable, changes: Mapping[str, ShardContent]
) -> RoutingTable:
    return table.with_shards(changes, state.metrics.links, max_age=state.serving.permanent_max_age)


def _swap(state: RedirectorState, table: RoutingTable) -> None:
    state.table = table  # one assignment: requests see the old table or the new, never a mix
    # The table is long-lived: keep its objects out of the garbage collector's scans. Without
    # this, each full collection walks every route (about 150 ms at 100,000 links), and the
    # visit log's short-lived records trigger such collections several times a second.
    gc.freeze()
    metrics = state.metrics
    if len(metrics.links.counters) > len(table):  # links went away: free their series
        metrics.links.retain(served.counter for served in table.routes.values())
    metrics.table_entries.set(len(table))
    metrics.table_bytes.set(table.bytes)
    metrics.table_version.inc()
    metrics.table_updated.set(time.time())
