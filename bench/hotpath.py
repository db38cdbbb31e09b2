"""Per-request cost of the redirect hot path, in-process, without sockets.

Two paths are timed, each in a loop: a plain redirect as the server answers it (request bytes fed
to the redirector's uvicorn protocol, answer written to a transport that only counts bytes), and
the same redirect through the ASGI app alone (the path every other redirect takes). Both include
the lookup, counting, classification, latency bucket and visit-log append, so a change to any of
them shows up in microseconds. Run with `make bench`; prints one line per variant.
"""

import argparse
import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

import uvicorn
import uvloop
from uvicorn.server import ServerState

from shortlink_core.link import Link
from shortlink_core.table import Route, encode_shard
from shortlink_redirector.app import Redirector, create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.protocol import redirect_protocol
from shortlink_redirector.state import RedirectorState

LINKS = 1000
AGENTS = (
    b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
)


def _state(visit_log: bool) -> RedirectorState:
    state = RedirectorState()
    routes = [
        Route(f"s{i}", Link(url=f"https://example.com/{i}?q=1", slug=f"s{i}"), "bench", f"s{i}")
        for i in range(LINKS)
    ]
    load_all(state, {"shard": encode_shard(routes)})
    if visit_log:
        from shortlink_redirector.visitlog import VisitLog  # absent before the visit log existed

        state.visit_log = VisitLog(stream=io.StringIO(), max_pending=10**9)
    return state


def _scopes() -> list[dict[str, Any]]:
    return [
        {
            "type": "http",
            "method": "GET",
            "path": f"/s{i % LINKS}",
            "raw_path": f"/s{i % LINKS}".encode(),
            "query_string": b"",
            "client": ("198.51.100.7", 50000),
            "headers": [
                (b"host", b"go.example.com"),
                (b"user-agent", AGENTS[i % len(AGENTS)]),
                (b"accept", b"*/*"),
                (b"referer", b"https://news.example.org/item?id=1" if i % 2 else b"x"),
            ],
        }
        for i in range(997)  # prime, so paths and headers combine differently
    ]


def _requests() -> list[bytes]:
    return [
        b"GET %s HTTP/1.1\r\n%s\r\n"
        % (
            scope["raw_path"],
            b"".join(b"%s: %s\r\n" % header for header in scope["headers"]),
        )
        for scope in _scopes()
    ]


class _CountingTransport(asyncio.Transport):
    """A connection from one client that never pushes back: it only counts what is written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("198.51.100.7", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def _measure_protocol(app: Redirector, requests: int) -> float:
    config = uvicorn.Config(
        app, http=redirect_protocol(app), access_log=False, lifespan="off", server_header=False
    )
    config.load()
    server_state = ServerState()
    server_state.default_headers = [(b"date", b"Sun, 22 Nov 2026 00:00:00 GMT")]
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=server_state, app_state={}
    )
    transport = _CountingTransport()
    protocol.connection_made(transport)
    raw = _requests()
    started = time.perf_counter()
    for i in range(requests):
        protocol.data_received(raw[i % len(raw)])
        if i % 64 == 0:
            # Let the loop run, as a server's does between reads: uvloop frees the keep-alive
            # timers cancelled by each request only then.
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    if server_state.total_requests != requests or server_state.tasks:
        raise SystemExit("the protocol did not answer every redirect itself")
    protocol.connection_lost(None)
    return elapsed / requests


async def _measure_app(app: Callable[..., Any], requests: int) -> float:
    scopes = _scopes()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for i in range(requests):
        await app(scopes[i % len(scopes)], receive, send)
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5, help="best of this many runs")
    parser.add_argument("--with-visit-log", action="store_true", help="also measure the visit log")
    args = parser.parse_args()
    variants = [("redirect", False)] + (
        [("redirect + visit log", True)] if args.with_visit_log else []
    )
    for label, with_log in variants:
        state = _state(with_log)
        app = create_app(state)
        for where, measure in (("in the server", _measure_protocol), ("in the app", _measure_app)):
            best = min(uvloop.run(measure(app, args.requests)) for _ in range(args.rounds))
            print(f"{label:<28} {best * 1e6:6.2f} µs/request {where}", flush=True)
        if with_log and state.visit_log is not None:
            started = time.perf_counter()
            written = state.visit_log.flush()
            per_line = (time.perf_counter() - started) / written
            print(f"{'visit log, batch write':<28} {per_line * 1e6:6.2f} µs/line, off the hot path")


if __name__ == "__main__":
    main()
