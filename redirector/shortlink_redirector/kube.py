"""The redirector's only door to the Kubernetes API: list and watch the routing-table ConfigMaps.

The shards and the manifest, in one listing and one watch (so their events arrive in the order
they were written). Read-only, and limited to one namespace and one label selector, so the
redirector needs nothing but `get`, `list` and `watch` on ConfigMaps in that namespace.
"""

import json
import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

from shortlink_core.api import TABLE_OBJECTS_SELECTOR

LIST_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
#: The server ends each watch after WATCH_SECONDS; a read that waits longer than that plus a
#: margin means the connection stalled silently, and the watch is started again.
WATCH_SECONDS: Final = 240
WATCH_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=WATCH_SECONDS + 30, write=10.0, pool=5.0)


class WatchExpired(Exception):
    """The resourceVersion is too old to watch from (410 Gone): list again."""


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
        params = {
            "labelSelector": TABLE_OBJECTS_SELECTOR,
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        api = await self._connected()
        try:
            async with api.call_api(
                "GET",
                version="v1",
                namespace=self._namespace,
                url="configmaps",
                params=params,
                stream=True,
                timeout=WATCH_TIMEOUT,
            ) as response:
                async for line in response.aiter_lines():
                    if line:
                        yield _event(json.loads(line))
        except kr8s.ServerError as error:
            if error.response is not None and error.response.status_code == 410:
                raise WatchExpired(str(error)) from error
            raise


def _event(raw: Mapping[str, Any]) -> ShardEvent:
    kind, obj = raw["type"], raw["object"]
    if kind == "ERROR":
        if obj.get("code") == 410:
            raise WatchExpired(obj.get("message", "resource version expired"))
        raise RuntimeError(f"watch error: {obj.get('message', obj)}")
    meta = obj["metadata"]
    return ShardEvent(
        kind=kind,
        name=meta.get("name", ""),
        resource_version=meta["resourceVersion"],
        data=obj.get("data") or {},
    )
