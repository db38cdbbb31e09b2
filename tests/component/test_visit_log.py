"""The visit log: one JSON line per redirect, anonymised, switchable off."""

import io
import json
from typing import Any

import httpx
import pytest

from shortlink_redirector.addresses import parse_networks
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.state import RedirectorState
from shortlink_redirector.visitlog import VisitLog
from tests.component.conftest import route, shard


async def visit(
    state: RedirectorState, path: str, *, peer: str = "198.51.100.77", **headers: str
) -> int:
    transport = httpx.ASGITransport(app=create_app(state), client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://go.example.com") as client:
        return (await client.get(path, headers=headers)).status_code


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def stream(state: RedirectorState) -> io.StringIO:
    stream = io.StringIO()
    state.visit_log = VisitLog(stream=stream, trusted_proxies=parse_networks("10.0.0.0/8"))
    load_all(state, {"s-0": shard(route("docs", "https://example.com/docs?token=abc"))})
    return stream


async def test_each_redirect_is_one_json_line(state: RedirectorState, stream: io.StringIO) -> None:
    await visit(
        state,
        "/docs?utm=1",
        **{
            "user-agent": "Mozilla/5.0 (iPad; CPU OS 17_0)",
            "referer": "https://news.example/a?q=1",
        },
    )
    assert stream.getvalue() == ""  # nothing is written on the request itself
    assert state.visit_log is not None
    assert state.visit_log.flush() == 1
    [line] = lines(stream)
    time = line.pop("time")
    assert time.endswith("Z")
    assert len(time) == len("2026-01-02T03:04:05.678Z")
    assert line == {
        "event": "visit",
        "host": "go.example.com",
        "slug": "docs",
        "namespace": "team",
        "name": "docs",
        "status": 302,
        "target_host": "example.com",
        "visitor": "tablet",
        "referrer": "external",
        "referrer_host": "news.example",
        "client": "198.51.100.0",
    }
    assert "token" not in stream.getvalue()
    assert "198.51.100.77" not in stream.getvalue()


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    state: RedirectorState, stream: io.StringIO
) -> None:
    await visit(state, "/docs", peer="10.0.0.5", **{"x-forwarded-for": "203.0.113.9"})
    await visit(state, "/docs", peer="198.51.100.1", **{"x-forwarded-for": "203.0.113.9"})
    assert state.visit_log is not None
    state.visit_log.flush()
    assert [line["client"] for line in lines(stream)] == ["203.0.113.0", "198.51.100.0"]


async def test_not_found_requests_are_not_visits(
    state: RedirectorState, stream: io.StringIO
) -> None:
    assert await visit(state, "/missing") == 404
    assert state.visit_log is not None
    assert state.visit_log.flush() == 0


async def test_switched_off_nothing_is_recorded(state: RedirectorState) -> None:
    load_all(state, {"s-0": shard(route("docs"))})
    assert state.visit_log is None
    assert await visit(state, "/docs") == 302


async def test_a_full_buffer_drops_and_counts_instead_of_growing() -> None:
    metrics = RedirectorMetrics()
    state = RedirectorState(metrics=metrics)
    stream = io.StringIO()
    state.visit_log = VisitLog(stream=stream, max_pending=2, on_drop=metrics.visit_log_dropped.inc)
    load_all(state, {"s-0": shard(route("docs"))})
    for _ in range(5):
        await visit(state, "/docs")
    assert state.visit_log.flush() == 2
    assert metrics.visit_log_dropped._value.get() == 3
