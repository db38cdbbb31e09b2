"""The table watch shared by the operator and the redirector (`shortlink_core.table_watch`): the
request it sends, the events it yields, and an expired resourceVersion as `WatchExpired` whether
the server says so in the HTTP status or in the stream."""

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from shortlink_core.api import TABLE_OBJECTS_SELECTOR
from shortlink_core.table_watch import WATCH_SECONDS, WatchExpired, watch_table


class Response:
    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    async def aiter_lines(self) -> AsyncIterator[str]:
        for line in self._lines:
            yield line


class StatusError(Exception):
    """Shaped like kr8s.ServerError: the HTTP response rides on the error."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.response = type("R", (), {"status_code": status_code})()


class FakeApi:
    def __init__(self, lines: list[str] | None = None, error: Exception | None = None) -> None:
        self.lines = lines or []
        self.error = error
        self.requests: list[dict[str, Any]] = []

    @asynccontextmanager
    async def call_api(
        self, method: str = "GET", version: str = "v1", *, namespace: str | None = None, **kw: Any
    ) -> AsyncIterator[Response]:
        self.requests.append({"method": method, "version": version, "namespace": namespace, **kw})
        if self.error is not None:
            raise self.error
        yield Response(self.lines)


def event(kind: str, obj: Mapping[str, Any]) -> str:
    return json.dumps({"type": kind, "object": obj})


async def changes(api: FakeApi, **kw: Any) -> list[tuple[str, Mapping[str, Any]]]:
    found = watch_table(api, namespace="ns", resource_version="41", request_timeout=5.0, **kw)
    return [change async for change in found]


async def test_it_watches_the_tables_configmaps_from_the_version_with_bookmarks() -> None:
    api = FakeApi(["", event("ADDED", {"metadata": {"name": "a", "resourceVersion": "42"}})])
    assert await changes(api, headers={"Accept": "meta"}) == [
        ("ADDED", {"metadata": {"name": "a", "resourceVersion": "42"}})
    ]
    [request] = api.requests
    assert request["namespace"] == "ns"
    assert request["url"] == "configmaps"
    assert request["stream"] is True
    assert request["headers"] == {"Accept": "meta"}
    assert request["params"] == {
        "labelSelector": TABLE_OBJECTS_SELECTOR,
        "watch": "true",
        "resourceVersion": "41",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(WATCH_SECONDS),
    }


async def test_a_410_status_is_watch_expired() -> None:
    with pytest.raises(WatchExpired):
        await changes(FakeApi(error=StatusError(410)))


async def test_a_410_error_event_in_the_stream_is_watch_expired() -> None:
    gone = event("ERROR", {"code": 410, "message": "too old resource version"})
    with pytest.raises(WatchExpired, match="too old"):
        await changes(FakeApi([gone]))


async def test_other_errors_are_not_mistaken_for_an_expired_version() -> None:
    with pytest.raises(StatusError):
        await changes(FakeApi(error=StatusError(403)))
    with pytest.raises(RuntimeError, match="watch error: boom"):
        await changes(FakeApi([event("ERROR", {"code": 500, "message": "boom"})]))
