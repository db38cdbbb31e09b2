"""Hostile and unusual requests, over real sockets and in-process: reserved paths, non-ASCII
spellings, Host framing (RFC 9112), the Location cap, the time before the table loads, and the
public scheme of short URLs behind a TLS ingress.

Socket tests run the real uvicorn server twice where it matters: with the redirector's protocol
(the fast path answers plain redirects) and with stock httptools (everything takes the app path).
"""

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from shortlink_core.link import Link
from shortlink_core.matching import RESERVED_SLUGS
from shortlink_core.table import Route
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.pages import qr_code
from shortlink_redirector.protocol import redirect_protocol
from shortlink_redirector.state import RedirectorState, ServingConfig
from tests.component.conftest import route, shard
from tests.component.test_protocol import CountingApp, Response, read_response, serving

PATHS = ("fast", "app")  # the redirector's protocol, or stock httptools (app path only)


@asynccontextmanager
async def server(state: RedirectorState, path: str) -> AsyncIterator[tuple[CountingApp, int]]:
    app = CountingApp(create_app(state))
    http = redirect_protocol(app.app) if path == "fast" else "httptools"
    async with serving(app, http) as port:
        yield app, port


async def raw(port: int, request: bytes, *, until_closed: bool = False) -> tuple[Response, bytes]:
    """Send `request` and read one response; then, if asked, all the server sends until it closes
    (uvicorn's keep-alive timeout in these tests is 1 s, so an open connection ends too)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        response = await read_response(reader)
        rest = await asyncio.wait_for(reader.read(), timeout=5) if until_closed else b""
        return response, rest
    finally:
        writer.close()


def request(target: str, *headers: str, version: str = "1.1") -> bytes:
    return "\r\n".join([f"GET {target} HTTP/{version}", *headers, "", ""]).encode()


def forged(slug: str) -> Route:
    """A route no validation layer would let through, as if a table were forged in memory."""
    return Route(
        slug=slug, link=Link(url="https://evil.example/", slug=slug), namespace="x", name=slug
    )


# Reserved paths


@pytest.fixture
def shadowed() -> RedirectorState:
    """A ready redirector whose in-memory table was given every reserved slug and spellings."""
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    slugs = [*RESERVED_SLUGS, "health-z", "ready_z", "live.z", "met-rics"]
    state.table = state.table.with_shards(
        {"forged": ([forged(slug) for slug in slugs], 0)}, state.metrics.links, max_age=0
    )
    return state


@pytest.mark.parametrize("path", PATHS)
async def test_own_paths_are_answered_whatever_the_table_holds(
    shadowed: RedirectorState, path: str
) -> None:
    expected = {
        "/healthz": (200, b"ok"),
        "/livez": (200, b"ok"),
        "/readyz": (200, b"ok"),
        "/robots.txt": (200, b"User-agent: *\nDisallow: /\n"),
        "/favicon.ico": (204, b""),
        "/metrics": (404, None),  # on the metrics port only; never a link
        "/api": (404, None),
        "/.well-known/acme-challenge/x": (404, None),
        "/Health-Z": (404, None),
    }
    async with server(shadowed, path) as (_, port):
        for target, (status, body) in expected.items():
            response, _ = await raw(port, request(target, "Host: go.example.com"))
            assert response.status == status, target
            assert response.header(b"location") is None, target
            if body is not None:
                assert response.body == body, target


@pytest.mark.parametrize("path", PATHS)
async def test_the_front_page_answers_hostile_queries_over_a_socket(path: str) -> None:
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", listed=True), route("quiet"))})
    queries = {
        "/": 200,
        "/?q=docs": 200,
        "/?q=%00%0d%0a%ff%fe": 200,  # controls and bytes that are not UTF-8
        "/?q=%E2%80%AE%3Cscript%3E": 200,  # a bidi override, markup
        "/?q=a&q=b&q=" + "x" * 100: 200,  # the first value counts
        "/?q=" + "a" * 101: 400,
        "/?q=" + "%41" * 101: 400,  # counted after decoding
        "/?" + "&".join(f"k{i}=v" for i in range(500)): 200,
    }
    async with server(state, path) as (_, port):
        for target, status in queries.items():
            for accept in ("text/html", "application/json", "*/*"):
                response, _ = await raw(
                    port, request(target, "Host: go.example.com", f"Accept: {accept}")
                )
                assert response.status == status, (target, accept)
                assert response.header(b"location") is None, target
                if (response.header(b"content-type") or b"").startswith(b"text/html"):
                    assert b"<script" not in response.body, target  # escaped
                assert b"quiet" not in response.body, target  # never an unlisted link


async def test_robots_and_favicon_are_not_counted_as_not_found(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {})
    robots = await client.get("/robots.txt")
    assert (robots.status_code, robots.text) == (200, "User-agent: *\nDisallow: /\n")
    assert (await client.get("/favicon.ico")).status_code == 204
    assert state.metrics.not_found._value.get() == 0


def test_a_shard_holding_a_reserved_spelling_is_refused_entry_by_entry() -> None:
    state = RedirectorState()
    entries = [forged(slug) for slug in ("health-z", "robots-txt", "wellknown")]
    load_all(state, {"s": shard(route("docs"), *entries)})
    assert [served.route.slug for served in state.table.routes.values()] == ["docs"]


# Matching folds ASCII only


@pytest.mark.parametrize("path", PATHS)
async def test_non_ascii_spellings_match_no_ascii_slug(path: str) -> None:
    state = RedirectorState()
    load_all(state, {"s": shard(route("key"), route("scale"), route("office"))})
    async with server(state, path) as (_, port):
        assert (await raw(port, request("/KEY", "Host: h")))[0].status == 302
        for target in (
            "/%E2%84%AAey",  # KELVIN SIGN + ey
            "/%EF%BD%8Bey",  # FULLWIDTH k + ey (NFKC: key)
            "/%C5%BFcale",  # LONG S + cale (case folding: scale)
            "/%EF%AC%83ce",  # LATIN SMALL LIGATURE FFI + ce (NFKC: office)
            "/\u212aey",  # the same KELVIN SIGN as raw UTF-8 bytes
        ):
            response, _ = await raw(port, request(target, "Host: h"))
            assert response.status in (400, 404), target
            assert response.header(b"location") is None, target


# Host framing (RFC 9112 section 3.2)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("target", ["/docs", "/docs?x=1", "/nope", "/docs+"])
@pytest.mark.parametrize(
    "headers",
    [
        (),
        ("Host: a.example", "Host: b.example"),
        ("Host: a.example", "host: a.example"),
        ("Host: ",),
        ("Host: a.example/evil",),
        ("Host: a b",),
        ("Host: user@a.example",),
        ("Host: a.example:80x",),
    ],
)
async def test_a_request_without_exactly_one_valid_host_is_refused(
    path: str, target: str, headers: tuple[str, ...]
) -> None:
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    async with server(state, path) as (_, port):
        response, rest = await raw(port, request(target, *headers), until_closed=True)
    assert response.status == 400
    assert response.header(b"location") is None
    assert response.header(b"connection") == b"close"
    assert rest == b""  # closed: nothing after a badly framed request is trusted


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "host", ["go.example.com", "go.example.com:8080", "127.0.0.1:80", "[::1]:8080", "GO.Example."]
)
async def test_valid_hosts_are_served(path: str, host: str) -> None:
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    async with server(state, path) as (app, port):
        response, _ = await raw(port, request("/docs", f"Host: {host}"))
    assert (response.status, response.header(b"location")) == (302, b"https://example.com/docs")
    assert app.calls == (0 if path == "fast" else 1)


@pytest.mark.parametrize("path", PATHS)
async def test_http_1_0_may_leave_host_out(path: str) -> None:
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    async with server(state, path) as (_, port):
        response, _ = await raw(port, request("/docs", version="1.0"))
    assert (response.status, response.header(b"location")) == (302, b"https://example.com/docs")


# The Location cap


def capped(limit: int) -> RedirectorState:
    state = RedirectorState(serving=ServingConfig(max_location_bytes=limit))
    load_all(
        state,
        {
            "s": shard(
                route("docs", "https://example.com/docs"),  # 24 bytes
                route("long", "https://example.com/" + "a" * 100),  # 120 bytes
            )
        },
    )
    return state


@pytest.mark.parametrize("path", PATHS)
async def test_a_location_over_the_cap_is_never_sent(path: str) -> None:
    async with server(capped(40), path) as (_, port):
        cases = {
            "/docs": 302,
            "/docs/" + "b" * 15: 302,  # exactly 40 bytes
            "/docs/" + "b" * 16: 414,
            "/docs?" + "q=1&" * 10: 414,
            "/long": 414,  # the link itself is longer than the cap: the fast path refuses too
        }
        for target, status in cases.items():
            response, _ = await raw(port, request(target, "Host: h"))
            assert response.status == status, target
            location = response.header(b"location")
            assert location is None if status == 414 else len(location or b"") <= 40


async def test_by_default_the_cap_is_8_kib(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    many = "&".join(f"p{i}=v" for i in range(2000))  # about 15 KB, as the review measured
    response = await client.get(f"/docs?{many}")
    assert response.status_code == 414
    assert "location" not in response.headers
    fits = await client.get("/docs/" + "x" * (8192 - len("https://example.com/docs/")))
    assert fits.status_code == 302
    assert len(fits.headers["location"]) == 8192


# Before the table is loaded


@pytest.mark.parametrize("path", PATHS)
async def test_until_a_table_is_loaded_links_answer_503_with_retry_after(path: str) -> None:
    state = RedirectorState()  # not ready: nothing loaded yet
    async with server(state, path) as (_, port):
        for target in ("/docs", "/docs?x=1", "/docs+", "/anything/else"):
            response, _ = await raw(port, request(target, "Host: h"))
            assert response.status == 503, target
            assert response.header(b"retry-after") is not None, target
        assert (await raw(port, request("/healthz", "Host: h")))[0].status == 200
        assert (await raw(port, request("/readyz", "Host: h")))[0].status == 503
        load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
        assert (await raw(port, request("/docs", "Host: h")))[0].status == 302
        assert (await raw(port, request("/nope", "Host: h")))[0].status == 404


# Short URLs behind a TLS ingress


async def inspect_url(state: RedirectorState, *headers: str, path: str = "app") -> str:
    async with server(state, path) as (_, port):
        response, _ = await raw(port, request("/docs+", "Accept: application/json", *headers))
    assert response.status == 200
    return str(json.loads(response.body)["shortURL"])


async def test_inspect_pages_use_the_public_base_url() -> None:
    state = RedirectorState(serving=ServingConfig(public_base_url="https://go.example.com"))
    load_all(state, {"s": shard(route("docs"), route("own", host="links.example.com"))})
    assert await inspect_url(state, "Host: 10.0.0.7:8080") == "https://go.example.com/docs"
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://links.example.com") as c:
        own = (await c.get("/own+", headers={"accept": "application/json"})).json()
        assert own["shortURL"] == "https://links.example.com/own"
        qr = await c.get("/docs+qr.png")
    assert qr.content == qr_code("https://go.example.com/docs", "qr.png").body


async def test_only_a_trusted_proxy_names_the_scheme() -> None:
    # In-process, so the peer address is chosen; uvicorn's own proxy-header rewrite is off in the
    # redirector (see `__main__`), so the app alone decides whom to believe.
    proxy = ("198.51.100.9", 40000)
    trusted = (ipaddress.ip_network("198.51.100.0/24"),)
    for proxies, proto, shown in [
        (trusted, "https", "https://go.example.com/docs"),
        (trusted, "https, http", "https://go.example.com/docs"),
        ((), "https", "http://go.example.com/docs"),
        (trusted, "gopher", "http://go.example.com/docs"),
    ]:
        state = RedirectorState(serving=ServingConfig(trusted_proxies=proxies))
        load_all(state, {"s": shard(route("docs"))})
        transport = httpx.ASGITransport(app=create_app(state), client=proxy)
        async with httpx.AsyncClient(transport=transport, base_url="http://go.example.com") as c:
            page = await c.get(
                "/docs+", headers={"accept": "application/json", "x-forwarded-proto": proto}
            )
        assert page.json()["shortURL"] == shown, (proxies, proto)


# Byte-exact redirects


@pytest.mark.parametrize("path", PATHS)
async def test_redirects_are_byte_exact_over_a_socket(path: str) -> None:
    state = RedirectorState()
    load_all(
        state,
        {
            "s": shard(
                route("who", "https://t.example/"),
                route("x", "https://e.example/{path}"),
                route("docs", "https://example.com/docs?lang=en"),
            )
        },
    )
    cases = {
        "/who/http://host": "https://t.example/http://host",
        "/who/a//b/": "https://t.example/a//b/",
        "/x/a/": "https://e.example/a/",
        "/x/a/./b/../": "https://e.example/a/b/",
        "/docs?else": "https://example.com/docs?lang=en&else",
        "/docs?q=a+b": "https://example.com/docs?lang=en&q=a+b",
        "/docs?lang=fr&q=a+b&&z": "https://example.com/docs?lang=en&q=a+b&z",
        "/docs/../admin": "https://example.com/docs/admin?lang=en",
        "/docs/%2e%2E/admin/": "https://example.com/docs/admin/?lang=en",
        "/docs/%7e/%zz": "https://example.com/docs/%7e/%zz?lang=en",
    }
    async with server(state, path) as (_, port):
        for target, expected in cases.items():
            response, _ = await raw(port, request(target, "Host: h"))
            assert (response.status, response.header(b"location")) == (302, expected.encode())
        # Bytes a URL cannot carry, sent raw: percent-encoded in the Location...
        response, _ = await raw(port, b'GET /who/a"{}^`|\\<>b HTTP/1.1\r\nHost: h\r\n\r\n')
        assert response.header(b"location") == b"https://t.example/a%22%7B%7D%5E%60%7C%5C%3C%3Eb"
        # ...or refused by uvicorn's parser (non-ASCII, controls) before anything is looked up.
        for byte in (b"\xc3\xa4", b"\x7f", b"\t"):
            request_bytes = b"GET /who/a" + byte + b" HTTP/1.1\r\nHost: h\r\n\r\n"
            assert (await raw(port, request_bytes))[0].status == 400


async def test_a_scope_without_http_version_is_http_1_1() -> None:
    # ASGI makes http_version optional (then it is 1.1); servers other than uvicorn omit it.
    state = RedirectorState()
    load_all(state, {"s": shard(route("docs", "https://example.com/docs"))})
    app = create_app(state)
    statuses = []
    for headers in ([(b"host", b"h")], []):
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any], into: list[dict[str, Any]] = sent) -> None:
            into.append(message)

        scope = {"type": "http", "method": "GET", "path": "/docs", "raw_path": b"/docs"}
        await app({**scope, "query_string": b"", "headers": headers}, receive, send)  # type: ignore[arg-type]
        statuses.append(sent[0]["status"])
    assert statuses == [302, 400]
