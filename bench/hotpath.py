"""Per-request cost of the redirect hot path and of a not-found, in-process, without sockets.

Two paths are timed, each in a loop: a plain redirect as the server answers it (request bytes fed
to the redirector's uvicorn protocol, answer written to a transport that only counts bytes), and
the same redirect through the ASGI app alone (the path every other redirect takes). Both include
the lookup, counting, classification, latency bucket and visit-log append, so a change to any of
them shows up in microseconds.

Then the not-found answers at `--not-found-links` links (default 100,000): a plain client's 404
in the server (every request an unknown slug, each taking a token from a budget that never runs
out, so the bucket's cost is included), the 429 once a network's budget is used up, and a
browser's 404 page with suggestions in the app (the server adds uvicorn's request cycle to that).
Times are CPU time of this process (`time.process_time`): on a shared machine, wall time would
count the turns other processes take on the same core. Run with `make bench`; prints one line per
variant.
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
_clock = time.process_time
AGENTS = (
    b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
)


def _state(visit_log: bool, *, links: int = LINKS) -> RedirectorState:
    state = RedirectorState()
    routes = [
        Route(f"s{i}", Link(url=f"https://example.com/{i}?q=1", slug=f"s{i}"), "bench", f"s{i}")
        for i in range(links)
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


def _not_found_requests(accept: bytes) -> list[bytes]:
    """GETs of unknown slugs: near misses of real ones (`s123x`), so a browser gets suggestions."""
    return [
        b"GET /s%dx HTTP/1.1\r\nhost: go.example.com\r\nuser-agent: curl/8.5\r\n"
        b"accept: %s\r\n\r\n" % (i * 7919 % LINKS, accept)
        for i in range(997)
    ]


async def _measure_protocol(
    app: Redirector, requests: int, raw: list[bytes] | None = None
) -> float:
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
    raw = raw or _requests()
    started = _clock()
    for i in range(requests):
        protocol.data_received(raw[i % len(raw)])
        if i % 64 == 0:
            # Let the loop run, as a server's does between reads: uvloop frees the keep-alive
            # timers cancelled by each request only then.
            await asyncio.sleep(0)
    elapsed = _clock() - started
    if server_state.total_requests != requests or server_state.tasks:
        raise SystemExit("the protocol did not answer every request itself")
    protocol.connection_lost(None)
    return elapsed / requests


async def _measure_app(
    app: Callable[..., Any], requests: int, scopes: list[dict[str, Any]] | None = None
) -> float:
    scopes = scopes or _scopes()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = _clock()
    for i in range(requests):
        await app(scopes[i % len(scopes)], receive, send)
    return (_clock() - started) / requests


def _browser_scopes() -> list[dict[str, Any]]:
    return [
        {
            "type": "http",
            "method": "GET",
            "path": f"/s{i * 7919 % LINKS}x",
            "raw_path": f"/s{i * 7919 % LINKS}x".encode(),
            "query_string": b"",
            "client": ("198.51.100.7", 50000),
            "headers": [(b"host", b"go.example.com"), (b"accept", b"text/html,*/*;q=0.8")],
        }
        for i in range(997)
    ]


def _not_found(links: int, requests: int, rounds: int) -> None:
    """The not-found answers at `links` links (see the module docstring)."""
    from shortlink_redirector.ratelimit import NotFoundLimiter  # absent before the budgets

    state = _state(False, links=links)
    app = create_app(state)
    state.not_found_limiter = NotFoundLimiter(burst=10**12, per_second=1)
    for label, raw in (
        (f"redirect, {links:,} links in the server", _requests()),
        (f"404, plain client, {links:,} links in the server", _not_found_requests(b"*/*")),
    ):
        best = min(uvloop.run(_measure_protocol(app, requests, raw)) for _ in range(rounds))
        print(f"{label:<48} {best * 1e6:7.2f} µs/request", flush=True)
    state.not_found_limiter = NotFoundLimiter(burst=1, per_second=1e-9)
    best = min(
        uvloop.run(_measure_protocol(app, requests, _not_found_requests(b"*/*")))
        for _ in range(rounds)
    )
    print(f"{'429 past the budget, in the server':<48} {best * 1e6:7.2f} µs/request", flush=True)
    state.not_found_limiter = NotFoundLimiter(burst=10**12, per_second=1)
    pages = max(1, requests // 20)  # a page costs far more; fewer suffice
    best = min(uvloop.run(_measure_app(app, pages, _browser_scopes())) for _ in range(rounds))
    label = f"404 page + suggestions, {links:,} links in the app"
    print(f"{label:<48} {best * 1e6:7.2f} µs/request", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5, help="best of this many runs")
    parser.add_argument("--with-visit-log", action="store_true", help="also measure the visit log")
    parser.add_argument(
        "--not-found-links", type=int, default=100_000, help="table size for the not-found cost"
    )
    parser.add_argument("--only-not-found", action="store_true", help="skip the redirect paths")
    args = parser.parse_args()
    if args.only_not_found:
        _not_found(args.not_found_links, args.requests, args.rounds)
        return
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
            started = _clock()
            written = state.visit_log.flush()
            per_line = (_clock() - started) / written
            print(f"{'visit log, batch write':<28} {per_line * 1e6:6.2f} µs/line, off the hot path")
    _not_found(args.not_found_links, args.requests, args.rounds)


if __name__ == "__main__":
    main()
