"""Per-request cost of the redirect hot path, in-process: the ASGI app called in a loop.

No sockets and no server: this isolates what the app itself does per redirect (lookup, counting,
classification, latency bucket, visit-log append) so a change to it shows up in microseconds.
Run with `make bench`; prints one line per variant. It also works against an older checkout of
the redirector (run it with that checkout on PYTHONPATH) to compare before and after.
"""

import argparse
import io
import time
from collections.abc import Callable
from typing import Any

import uvloop

from shortlink_core.link import Link
from shortlink_core.table import Route, encode_shard
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
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


async def _measure(app: Callable[..., Any], requests: int) -> float:
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
        best = min(uvloop.run(_measure(app, args.requests)) for _ in range(args.rounds))
        print(f"{label:<28} {best * 1e6:6.2f} µs/request in the app", flush=True)
        if with_log and state.visit_log is not None:
            started = time.perf_counter()
            written = state.visit_log.flush()
            per_line = (time.perf_counter() - started) / written
            print(f"{'visit log, batch write':<28} {per_line * 1e6:6.2f} µs/line, off the hot path")


if __name__ == "__main__":
    main()
