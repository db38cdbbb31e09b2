"""Keeps the served table in step with the routing-table ConfigMaps (the shards and the manifest).

List once, then watch from the list's resourceVersion; every change decodes only the changed
shard, builds a new table in a worker thread (the event loop goes on answering requests from the
old one) and swaps it in with one assignment. When the API server is unreachable, or a
shard cannot be decoded or is deleted while the manifest still lists it, the last good table (and
the last good copy of that shard) stays in service: the redirector never goes blank because of
the control plane. Which shard may go, and when the table is complete (ready), is decided by the
`manifest` ledger's rules.
"""

import asyncio
import gc
import logging
import time
from collections.abc import Mapping
from typing import Final

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.backoff import Backoff
from shortlink_core.table import (
    TableFormatError,
    decode_manifest,
    decode_shard,
    encode_manifest,
    shard_digest,
)
from shortlink_core.table_watch import WatchExpired
from shortlink_redirector.kube import ShardSource
from shortlink_redirector.state import RedirectorState
from shortlink_redirector.table import RoutingTable, ShardContent

BACKOFF_SECONDS: Final = (0.2, 0.5, 1, 2, 4, 8)

logger = logging.getLogger(__name__)


class TableFollower:
    def __init__(self, *, source: ShardSource, state: RedirectorState) -> None:
        self._source = source
        self._state = state

    async def run(self) -> None:
        """Follow the table until cancelled; errors are logged and retried with backoff."""
        backoff = Backoff(BACKOFF_SECONDS)
        while True:
            try:
                snapshot = await self._source.list()
                # Decoding shards and building a table take a while with many links (about
                # 140 ms for a one-link change at 100,000 links, 2.5 s for the first listing):
                # in a thread, so the event loop goes on answering requests meanwhile (the
                # interpreter hands it its turn every switch interval). One at a time, in order.
                await asyncio.to_thread(load_listing, self._state, snapshot.shards)
                backoff.succeeded()
                resource_version = snapshot.resource_version
                while True:  # one watch after another, until the version expires
                    async for event in self._source.watch(resource_version):
                        resource_version = event.resource_version
                        if event.kind == "DELETED":
                            await asyncio.to_thread(apply_event, self._state, event.name, None)
                        elif event.kind in ("ADDED", "MODIFIED"):
                            await asyncio.to_thread(
                                apply_event, self._state, event.name, event.data
                            )
            except asyncio.CancelledError:
                raise
            except WatchExpired:
                logger.info("routing-table watch expired; listing again")
            except Exception as error:
                delay = backoff.failed()
                logger.warning(
                    "cannot follow the routing table (%s); serving the last good table "
                    "(%d links) and retrying in %s s",
                    error,
                    len(self._state.table),
                    delay,
                )
                await asyncio.sleep(delay)


def load_all(state: RedirectorState, shards: Mapping[str, Mapping[str, str]]) -> None:
    """Serve exactly `shards` as the whole table, as if the operator had listed them in a manifest.

    For callers that build a table themselves (tests, `make bench`); the follower reads the
    manifest the operator wrote (`load_listing`).
    """
    load_listing(state, {**shards, MANIFEST_NAME: encode_manifest(shards)})


def load_listing(state: RedirectorState, objects: Mapping[str, Mapping[str, str]]) -> None:
    """Follow a complete listing of the table's ConfigMaps (the shards and the manifest)."""
    ledger = state.ledger
    changes: dict[str, ShardContent] = {}
    if MANIFEST_NAME in objects:
        changes.update(dict.fromkeys(_read_manifest(state, objects[MANIFEST_NAME]), ((), 0)))
    else:
        _manifest_missing(state)
    for name, data in sorted(objects.items()):
        if name != MANIFEST_NAME:
            content = _content(state, name, data)
            if content is not None:
                changes[name] = content
    for name in ledger.relisted(set(objects) - {MANIFEST_NAME}):
        changes[name] = ((), 0)
    _swap(state, _with(state, state.table, changes))
    _check_complete(state, announce=True)


def apply_event(state: RedirectorState, name: str, data: Mapping[str, str] | None) -> None:
    """Follow one watch event: the ConfigMap `name` now holds `data` (None: it was deleted)."""
    ledger = state.ledger
    changes: dict[str, ShardContent] = {}
    if name == MANIFEST_NAME:
        if data is None:
            _manifest_missing(state)
        else:
            changes = dict.fromkeys(_read_manifest(state, data), ((), 0))
    elif data is None:
        if ledger.shard_deleted(name):
            changes[name] = ((), 0)
        elif name in ledger.served:
            logger.warning(
                "shard %s was deleted but the manifest still lists it; serving its last good "
                "copy until the operator restores it",
                name,
            )
    else:
        content = _content(state, name, data)
        if content is not None:
            changes[name] = content
    if changes:
        _swap(state, _with(state, state.table, changes))
    _check_complete(state, announce=name == MANIFEST_NAME)


def apply_shard(state: RedirectorState, name: str, data: Mapping[str, str]) -> None:
    """Serve shard `name` as `data` says from now on; empty `data` means it was deleted."""
    apply_event(state, name, data or None)


def _read_manifest(state: RedirectorState, data: Mapping[str, str]) -> list[str]:
    """Take a manifest's listing (or keep the last good one); return the shards to drop."""
    try:
        listing = decode_manifest(data)
    except TableFormatError as error:
        state.metrics.table_load_failures.inc()
        logger.error("manifest not loaded, keeping its last good listing: %s", error)
        return []
    return state.ledger.manifest_loaded(listing)


def _manifest_missing(state: RedirectorState) -> None:
    if state.ledger.listed is None:
        logger.warning("no manifest yet: not ready until the operator writes one")
    else:
        logger.warning(
            "the manifest is gone: keeping its last listing until the operator restores it"
        )


def _check_complete(state: RedirectorState, *, announce: bool) -> None:
    """Report the shards not as the manifest lists them; become ready once the table is complete.

    `announce` logs every such shard: after a manifest (written last, so its shards should all
    be served by now) or a listing. Between a shard and the manifest that confirms it, a
    difference is the normal order of writes, not worth a warning.
    """
    ledger = state.ledger
    unconfirmed = ledger.unconfirmed
    state.metrics.table_shards_unconfirmed.set(len(unconfirmed))
    if unconfirmed and announce:
        logger.warning(
            "%d shard(s) not as the manifest lists them (deleted, unreadable or changed by "
            "hand; their last good copies are served until the operator repairs them): %s",
            len(unconfirmed),
            ", ".join(unconfirmed),
        )
    if ledger.complete and not state.ready:
        # Once ready, stay ready: the last good table keeps serving (the redirector never goes
        # blank), and the metric above says when it is not the whole table.
        state.ready = True
        state.metrics.table_loaded.set(1)
        logger.info(
            "routing table complete: %d links in %d shards", len(state.table), len(ledger.served)
        )


def _content(state: RedirectorState, name: str, data: Mapping[str, str]) -> ShardContent | None:
    """The routes of a shard's `data`, or None to keep its last good version."""
    metrics = state.metrics
    try:
        decoded = decode_shard(data, known=state.table.served_in(name))
    except TableFormatError as error:
        metrics.table_load_failures.inc()
        state.ledger.shard_unreadable(name)
        logger.error("shard %s not loaded, keeping its last good version: %s", name, error)
        return None
    for rejected in decoded.rejected:
        metrics.table_load_failures.inc()
        logger.error("shard %s: entry not served: %s", name, rejected)
    state.ledger.shard_loaded(name, shard_digest(data))
    if state.ledger.mismatched(name):
        logger.info(
            "shard %s differs from the manifest: served as it is (a write the manifest will "
            "confirm, or a hand edit the operator will repair)",
            name,
        )
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
