"""Watching the routing table's ConfigMaps: the request and the reading of its stream, shared by
the operator's and the redirector's `kube` modules. Each passes its own connected API client
(kr8s): this module names no client library, it only calls the client's `call_api`.

The watch asks for bookmarks and ends after `WATCH_SECONDS` on the server's side; a client read
that waits longer than that (plus a margin) means the connection stalled silently, and the caller
starts the watch again. An expired resourceVersion (410 Gone, as an HTTP status or as an ERROR
event in the stream) is `WatchExpired`: list again and watch from there.
"""

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol

from shortlink_core.api import TABLE_OBJECTS_SELECTOR

WATCH_SECONDS: Final = 240
#: How long past WATCH_SECONDS a read may wait before the connection counts as stalled.
WATCH_READ_MARGIN_SECONDS: Final = 30


class WatchExpired(Exception):
    """The resourceVersion is too old to watch from (410 Gone): list again."""


class ApiClient(Protocol):
    """The part of kr8s's asynchronous API client a watch uses."""

    def call_api(
        self, method: str = ..., version: str = ..., *, namespace: str | None = ..., **kwargs: Any
    ) -> AbstractAsyncContextManager[Any]: ...


async def watch_table(
    api: ApiClient,
    *,
    namespace: str,
    resource_version: str,
    request_timeout: object,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
    """(type, object) of each change to the table's ConfigMaps in `namespace` after
    `resource_version`, until the server ends the watch; `WatchExpired` when that version is
    too old, whether the server says so in the HTTP status or in the stream."""
    try:
        async with api.call_api(
            "GET",
            version="v1",
            namespace=namespace,
            url="configmaps",
            params=watch_params(resource_version),
            headers=dict(headers or {}),
            stream=True,
            timeout=request_timeout,
        ) as response:
            async for event in watch_events(response.aiter_lines()):
                yield event
    except Exception as error:
        # The client's error carries the HTTP response (kr8s.ServerError.response).
        if getattr(getattr(error, "response", None), "status_code", None) == 410:
            raise WatchExpired(str(error)) from error
        raise


def watch_params(resource_version: str) -> dict[str, str]:
    """The query of a watch on the table's ConfigMaps after `resource_version`."""
    return {
        "labelSelector": TABLE_OBJECTS_SELECTOR,
        "watch": "true",
        "resourceVersion": resource_version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(WATCH_SECONDS),
    }


async def watch_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
    """(type, object) of each event in a watch stream's lines; an ERROR event raises."""
    async for line in lines:
        if not line:
            continue
        raw = json.loads(line)
        kind, obj = raw["type"], raw["object"]
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise WatchExpired(obj.get("message", "resource version expired"))
            raise RuntimeError(f"watch error: {obj.get('message', obj)}")
        yield kind, obj
