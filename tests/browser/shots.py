"""The redirector's pages in a real browser: a demo table served over a real socket, each page
loaded by headless Chromium (Debian's `chromium`), with its screenshot, its DOM, its console
messages and every request it made.

Used by the browser tier (`tests/browser`) and by `make screenshots`, which writes one screenshot
per page into `docs/screenshots/` (`python -m tests.browser.shots docs/screenshots`).
"""

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shortlink_core.link import parse_link
from shortlink_core.table import Route, encode_shard
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.render import PAGE_HEADERS
from shortlink_redirector.state import RedirectorState, ServingConfig

WINDOW: Final = (960, 760)
#: How long one page may take to load and render (Chromium starts in 1-3 s).
PAGE_TIMEOUT: Final = 90
#: A console message in Chromium's log: `...:INFO:CONSOLE:<line>] "message", source: url (line)`.
_CONSOLE: Final = re.compile(r":CONSOLE(?::\d+|\(\d+\))\] (.*)")
#: A page that runs an inline script, served only by this harness: it proves that a page's
#: console messages are seen, and that the pages' Content-Security-Policy blocks scripts.
PROBE_PATH: Final = "/__probe__"


@dataclass(frozen=True, slots=True)
class Shot:
    """A page to load: its name (the screenshot's file name), path, status, and text it shows."""

    name: str
    path: str
    status: int
    shows: str


PAGES: Final = (
    Shot("front-page", "/", 200, "Most visited"),
    Shot("search", "/?q=team", 200, "Links matching"),
    Shot("inspect", "/handbook+", 200, "Whom to ask"),
    Shot("not-found", "/team-wiki", 404, "kubectl shortlink create team-wiki"),
    Shot("expired", "/spring-sale", 410, "expired at"),
    Shot("suspended", "/beta", 404, "is suspended"),
)


def _route(slug: str, url: str, *, name: str = "", **spec: object) -> Route:
    link = parse_link({"url": url, "slug": slug, **spec}).with_utm_applied()
    return Route(slug=slug, link=link, namespace="team-a", name=name or slug, changed=1_796_029_920)


def demo_state() -> RedirectorState:
    """A redirector holding a small, realistic table, with visits counted."""
    owner = "#team-a on chat, team-a@example.com"
    rules = [{"when": {"devices": ["Mobile"]}, "url": "https://m.wiki.example.com/handbook"}]
    routes = [
        _route(
            "handbook",
            "https://wiki.example.com/handbook",
            description="The team handbook: how we work",
            owner=owner,
            listed=True,
            rules=rules,
            expiresAt="2030-12-31T23:59:59Z",
        ),
        _route("hb", "https://wiki.example.com/handbook", name="handbook", listed=True),
        _route(
            "oncall",
            "https://pager.example.com/schedules/team-a",
            description="Who is on call this week",
            owner=owner,
            listed=True,
        ),
        _route(
            "team-docs",
            "https://docs.example.com/team-a",
            description="Team documentation",
            listed=True,
        ),
        _route("team-okrs", "https://docs.example.com/okrs", description="Our goals", listed=True),
        _route(
            "k8s-docs",
            "https://kubernetes.io/docs/home/",
            description="Kubernetes docs",
            listed=True,
        ),
        _route("launch-2027", "https://example.com/secret", description="not listed"),
        _route(
            "spring-sale",
            "https://shop.example.com/spring",
            description="Spring sale 2026 landing page",
            owner="marketing@example.com",
            expiresAt="2026-06-01T00:00:00Z",
        ),
        _route(
            "beta",
            "https://beta.example.com/",
            description="The beta programme sign-up",
            owner="#beta-team",
            suspended=True,
        ),
    ]
    state = RedirectorState(serving=ServingConfig(public_base_url="https://go.example.com"))
    load_all(state, {"demo": encode_shard(routes)})
    visits = {"oncall": 1284, "handbook": 731, "k8s-docs": 402, "team-docs": 57}
    for served in state.table.routes.values():
        served.counter.value = visits.get(served.route.name, 0)
    return state


@dataclass
class Site:
    """A redirector serving on 127.0.0.1, recording every request's path and status."""

    base_url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


def _recording(app: ASGIApp, site: Site) -> ASGIApp:
    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        target = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        if scope["path"] == PROBE_PATH:
            await _probe(send)
            site.requests.append((target, 200))
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                site.requests.append((target, message["status"]))
            await send(message)

        await app(scope, receive, sending)

    return recorded


async def _probe(send: Send) -> None:
    body = b'<!doctype html><title>probe</title><script>console.log("ran")</script>'
    headers = [(k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
    headers.append((b"content-type", b"text/html; charset=utf-8"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving(state: RedirectorState) -> Iterator[Site]:
    """Serve `state` on a free port of 127.0.0.1 in a thread, for as long as the block runs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = Site(base_url=f"http://127.0.0.1:{port}")
    app = _recording(create_app(state), site)
    config = uvicorn.Config(app, lifespan="off", log_level="error", server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn offers a flag, not an event
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the redirector did not start")
        time.sleep(0.02)
    try:
        yield site
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass(frozen=True, slots=True)
class Capture:
    """What Chromium made of one page."""

    png: bytes
    dom: str
    #: Every console message the page caused (the pages run no script: there should be none).
    console: list[str]
    #: Every request the server saw while the page loaded (path and status).
    requests: list[tuple[str, int]]


def chromium() -> str:
    """The Chromium executable (Debian's `chromium`; `make browser` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("chromium is not installed: run `make browser` (Debian's chromium)")
    return found


def capture(site: Site, path: str, screenshot: Path) -> Capture:
    """Load `path` in a fresh headless Chromium: its screenshot (into `screenshot`), DOM and
    console messages, and the requests it made."""
    first = len(site.requests)
    with tempfile.TemporaryDirectory(prefix="shortlink-chromium-") as profile:
        result = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # loopback pages of our own; the sandbox needs privileges
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--screenshot={screenshot}",
                "--dump-dom",
                "--enable-logging=stderr",
                "--v=0",
                site.base_url + path,
            ],
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT,
            check=False,
        )
    if result.returncode != 0 or not screenshot.exists():
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    console = [m.group(1) for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
    return Capture(screenshot.read_bytes(), result.stdout, console, site.requests[first:])


def main(argv: list[str]) -> int:
    """`make screenshots`: write one screenshot per page into the folder given."""
    folder = Path(argv[0] if argv else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    with serving(demo_state()) as site:
        for shot in PAGES:
            page = capture(site, shot.path, folder / f"{shot.name}.png")
            if page.console or shot.shows not in page.dom:
                print(f"{shot.name}: unexpected page: {page.console}", file=sys.stderr)
                return 1
            print(folder / f"{shot.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
