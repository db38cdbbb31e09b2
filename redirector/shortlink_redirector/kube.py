"""The redirector's only door to the Kubernetes API: list and watch the routing-table ConfigMaps.

The shards and the manifest, in one listing and one watch (so their events arrive in the order
they were written). Read-only, and limited to one namespace and one label selector, so the
redirector needs nothing but `get`, `list` and `watch` on ConfigMaps in that namespace.
"""

import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

from shortlink_core.api import TABLE_OBJECTS_SELECTOR
from shortlink_core.table_watch import (
    WATCH_READ_MARGIN_SECONDS,
    WATCH_SECONDS,
    watch_table,
)

LIST_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
#: A read that waits past the server's end of the watch means the connection stalled silently.
WATCH_TIMEOUT: Final = httpx.Timeout(
    connect=5.0, read=WATCH_SECONDS + WATCH_READ_MARGIN_SECONDS, write=10.0, pool=5.0
)


@dataclass(frozen=True, slots=True)
class ShardSnapshot:
    """The routing-table ConfigMaps (shards and manifest, by name) at one resourceVersion."""

    resource_version: str
    shards: dict[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class ShardEvent:
    kind: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    name: str
    resource_version: str
    data: Mapping[str, str]


class ShardSource:
    """Reads the cluster of the in-cluster service account or the kubeconfig, as kubectl would.

    The connection is made on the first request, so a redirector started while the API server is
    away comes up, serves its probes, and keeps trying.
    """

    def __init__(self, *, namespace: str, api: Any = None) -> None:
        self._api = api
        self._namespace = namespace

    async def _connected(self) -> Any:
        if self._api is None:
            with warnings.catch_warnings():
                # kr8s warns about any Kubernetes newer than it was tested with; we test ours.
                warnings.filterwarnings("ignore", "Kubernetes version", UserWarning)
                self._api = await kr8s.asyncio.api()
        return self._api

    async def list(self) -> ShardSnapshot:
        api = await self._connected()
        async with api.call_api(
            "GET",
            version="v1",
            namespace=self._namespace,
            url="configmaps",
            params={"labelSelector": TABLE_OBJECTS_SELECTOR},
            timeout=LIST_TIMEOUT,
        ) as response:
            body = response.json()
        return ShardSnapshot(
            resource_version=body["metadata"]["resourceVersion"],
            shards={item["metadata"]["name"]: item.get("data") or {} for item in body["items"]},
        )

    async def watch(self, resource_version: str) -> AsyncIterator[ShardEvent]:
        """Changes after `resource_version`, until the server ends the watch."""
        changes = watch_table(
            await self._connected(),
            namespace=self._namespace,
            resource_version=resource_version,
            request_timeout=WATCH_TIMEOUT,
        )
        async for kind, obj in changes:
            meta = obj["metadata"]
            yield ShardEvent(
                kind=kind,
                name=meta.get("name", ""),
                resource_version=meta["resourceVersion"],
                data=obj.get("data") or {},
            )
