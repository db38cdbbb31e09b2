"""The redirector's uvicorn protocol over a real socket: plain redirects answered from the parser.

Each test runs a real uvicorn server on 127.0.0.1 with the redirector's protocol and speaks raw
HTTP/1.1 to it, so what is checked is the bytes a client receives. The app is wrapped in a counter
of ASGI calls, which tells a redirect the protocol answered itself from one that reached the app.
"""

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from shortlink_redirector.app import Redirector, create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.protocol import redirect_protocol
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.state import RedirectorState
from shortlink_redirector.visitlog import VisitLog
from tests.component.conftest import route, shard

HttpSetting = str | type[asyncio.Protocol]


SLOW_PATH = "/slow-page"


class CountingApp:
    """The redirector app, counting the requests that reach it; `SLOW_PATH` takes 1.5 s."""

    def __init__(self, app: Redirector) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if scope.get("path") == SLOW_PATH:
            await asyncio.sleep(1.5)
        await self.app(scope, receive, send)


@dataclass
class Response:
    head: bytes
    body: bytes

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b": ")
            if key.lower() == name:
                return value
        return None

    def without_date(self) -> bytes:
        return b"\r\n".join(
            line for line in self.head.split(b"\r\n") if not line.startswith(b"date:")
        )


async def read_response(reader: asyncio.StreamReader, *, head_request: bool = False) -> Response:
    head = (await reader.readuntil(b"\r\n\r\n"))[:-4]
    response = Response(head, b"")
    length = int(response.header(b"content-length") or 0)
    if length and not head_request:
        response.body = await reader.readexactly(length)
    return response


@asynccontextmanager
async def serving(
    app: CountingApp, http: HttpSetting, *, access_log: bool = False
) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=http,
        lifespan="off",
        access_log=access_log,
        server_header=False,
        log_level="info" if access_log else "error",
        timeout_keep_alive=1,  # shorter than SLOW_PATH takes
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def visit_log(state: RedirectorState) -> io.StringIO:
    stream = io.StringIO()
    state.visit_log = VisitLog(stream=stream)
    load_all(
        state,
        {
            "s-0": shard(
                route("docs", "https://example.com/docs?x=1"),
                route("perm", "https://example.org/", 301),
                route("moved", "https://example.org/m", 308),
            )
        },
    )
    return stream


@pytest.fixture
def app(state: RedirectorState, visit_log: io.StringIO) -> CountingApp:
    return CountingApp(create_app(state))


Connect = Callable[[], "asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]"]


@pytest.fixture
async def connect(app: CountingApp) -> AsyncIterator[Connect]:
    async with serving(app, redirect_protocol(app.app)) as port:
        yield lambda: asyncio.ensure_future(asyncio.open_connection("127.0.0.1", port))


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: go.example.com", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def exchange(connect: Connect, request: bytes, *, head: bool = False) -> Response:
    reader, writer = await connect()
    writer.write(request)
    try:
        return await read_response(reader, head_request=head)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/docs"),
        get("/perm", "User-Agent: curl/8.5"),
        get("/moved", method="HEAD"),
        get("/docs", "Connection: close"),  # answered by the app: the protocol leaves closes to it
        get("/nope"),  # a plain not-found
        get("/nope?utm_source=x", "Accept: */*"),
        get("/nope", method="HEAD"),
    ],
)
async def test_answers_with_the_bytes_uvicorn_would_send(
    app: CountingApp, request_bytes: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = []
    for http in ("httptools", redirect_protocol(app.app)):
        async with serving(app, http, access_log=True) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request_bytes)
            answers.append(await read_response(reader, head_request=b"HEAD" in request_bytes))
            writer.close()
    stock, ours = answers
    assert ours.without_date() == stock.without_date()
    assert ours.body == stock.body
    assert ours.header(b"date") is not None
    # And the same access-log line, for a server run with uvicorn's access log on.
    out = capsys.readouterr().out
    stock_line, our_line = [
        line.split(" - ", 1)[1]  # after the client's address and port
        for line in out.splitlines()
        if " HTTP/1." in line
    ]
    assert our_line == stock_line


async def test_a_plain_redirect_never_reaches_the_app_yet_is_counted_and_logged(
    app: CountingApp, connect: Connect, state: RedirectorState, visit_log: io.StringIO
) -> None:
    response = await exchange(
        connect, get("/docs", "User-Agent: Mozilla/5.0 (iPhone)", "Referer: https://news.example/")
    )
    assert (response.status, response.header(b"location")) == (302, b"https://example.com/docs?x=1")
    assert app.calls == 0
    [counter] = [c for (_, name, _), c in state.metrics.links.counters.items() if name == "docs"]
    assert counter.value == 1
    assert state.visit_log is not None
    assert state.visit_log.flush() == 1
    line = json.loads(visit_log.getvalue())
    assert (line["slug"], line["visitor"], line["referrer_host"], line["client"]) == (
        "docs",
        "mobile",
        "news.example",
        "127.0.0.0",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/docs?utm_source=mail",  # a query string is forwarded by the app
        "/%64ocs",  # percent-encoded: decoded by uvicorn, then looked up
        "/Docs",  # another spelling
    ],
)
async def test_other_spellings_of_a_redirect_are_answered_by_the_app(
    app: CountingApp, connect: Connect, path: str
) -> None:
    response = await exchange(connect, get(path))
    assert response.status == 302
    assert (response.header(b"location") or b"").startswith(b"https://example.com/docs?x=1")
    assert app.calls == 1


async def test_keep_alive_serves_many_requests_on_one_connection(
    app: CountingApp, connect: Connect
) -> None:
    reader, writer = await connect()
    for path in ("/docs", "/healthz", "/perm", "/nope", "/docs"):
        writer.write(get(path))
        response = await read_response(reader)
        assert response.status == {"/docs": 302, "/perm": 301, "/healthz": 200, "/nope": 404}[path]
    writer.close()
    assert app.calls == 1  # the probe; the protocol answered the not-found itself


async def test_pipelined_requests_are_answered_in_order(app: CountingApp, connect: Connect) -> None:
    reader, writer = await connect()
    # A slow request for the app first: the redirects behind it must wait their turn.
    writer.write(get("/healthz") + get("/docs") + get("/nope") + get("/perm") + get("/docs"))
    statuses = [(await read_response(reader)).status for _ in range(5)]
    writer.close()
    assert statuses == [200, 302, 404, 301, 302]


async def test_an_idle_timeout_never_cuts_off_a_request_being_answered(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(get("/docs") + get(SLOW_PATH))
    first, second = await read_response(reader), await read_response(reader)
    writer.close()
    assert (first.status, second.status) == (302, 404)


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(get("/docs"))
    assert (await read_response(reader)).status == 302
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()


async def test_a_request_body_is_skipped_not_read_as_the_next_request(connect: Connect) -> None:
    reader, writer = await connect()
    body = b"GET /perm HTTP/1.1\r\n\r\n"  # looks like a request; must not be answered as one
    writer.write(get("/docs", f"Content-Length: {len(body)}")[:-2] + b"\r\n" + body + get("/moved"))
    first, second = await read_response(reader), await read_response(reader)
    writer.close()
    assert (first.status, second.status) == (302, 308)


@pytest.mark.parametrize(
    "request_bytes", [get("/docs", "Connection: close"), get("/docs", version="1.0")]
)
async def test_a_connection_the_client_closes_after_the_answer_is_closed(
    connect: Connect, request_bytes: bytes
) -> None:
    reader, writer = await connect()
    writer.write(request_bytes)
    response = await read_response(reader)
    assert (response.status, response.header(b"connection")) == (302, b"close")
    assert await reader.read() == b""  # the server closed its side
    writer.close()


async def test_other_methods_reach_the_app(app: CountingApp, connect: Connect) -> None:
    response = await exchange(connect, get("/docs", "Content-Length: 0", method="POST"))
    assert response.status == 405
    assert app.calls == 1


async def test_a_new_table_is_served_by_the_next_request(
    connect: Connect, state: RedirectorState
) -> None:
    reader, writer = await connect()
    writer.write(get("/docs"))
    assert (await read_response(reader)).header(b"location") == b"https://example.com/docs?x=1"
    load_all(state, {"s-0": shard(route("docs", "https://example.com/v2"))})
    writer.write(get("/docs"))
    assert (await read_response(reader)).header(b"location") == b"https://example.com/v2"
    writer.close()


async def test_a_plain_not_found_never_reaches_the_app_yet_is_counted(
    app: CountingApp, connect: Connect, state: RedirectorState
) -> None:
    response = await exchange(connect, get("/nope", "User-Agent: curl/8.5", "Accept: */*"))
    assert (response.status, response.body) == (404, b"short link not found\n")
    assert response.header(b"location") is None
    assert app.calls == 0
    assert state.metrics.registry.get_sample_value("shortlink_not_found_total") == 1
    assert sum(state.metrics.traffic.other_latency.counts) == 1


async def test_a_head_not_found_sends_no_body_and_the_connection_goes_on(
    app: CountingApp, connect: Connect
) -> None:
    reader, writer = await connect()
    writer.write(get("/nope", method="HEAD") + get("/docs"))
    first = await read_response(reader, head_request=True)
    second = await read_response(reader)
    writer.close()
    assert (first.status, first.header(b"content-length"), second.status) == (404, b"21", 302)
    assert app.calls == 0


@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/nope", "Accept: text/html,*/*"),  # a browser: the page with suggestions
        get("/nope", "Accept: application/json"),
        get("/%6eope"),  # percent-encoded
        get("/nope/more"),  # a suffix
        get("/nope+"),  # an inspect page
        get("/"),
        get("/Healthz"),  # a reserved name in another spelling: the pages decide
        get("/readyz"),
        b"GET /nope HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",  # two Hosts
        b"GET /nope HTTP/1.1\r\n\r\n",  # no Host
        get("/nope", version="1.0"),
        get("/nope", "Connection: close"),
    ],
)
async def test_other_not_found_requests_are_left_to_the_app(
    app: CountingApp, connect: Connect, request_bytes: bytes
) -> None:
    await exchange(connect, request_bytes)
    assert app.calls == 1


async def test_before_the_table_is_loaded_the_app_decides(
    app: CountingApp, connect: Connect, state: RedirectorState
) -> None:
    state.ready = False
    await exchange(connect, get("/nope"))
    assert app.calls == 1


async def test_probing_gets_429_from_the_protocol_while_redirects_flow(
    app: CountingApp, connect: Connect, state: RedirectorState
) -> None:
    state.not_found_limiter = NotFoundLimiter(burst=2, per_second=0.01)
    reader, writer = await connect()
    answers = []
    for path in ("/a1", "/a2", "/a3", "/docs", "/a4"):
        writer.write(get(path))
        answers.append(await read_response(reader))
    writer.close()
    assert [answer.status for answer in answers] == [404, 404, 429, 302, 429]
    assert int(answers[2].header(b"retry-after") or 0) == 100  # one token takes 100 s
    assert answers[3].header(b"retry-after") is None
    assert app.calls == 0
    assert state.metrics.registry.get_sample_value("shortlink_not_found_limited_total") == 2


async def test_under_a_root_path_every_request_is_answered_as_stock_uvicorn_answers_it(
    app: CountingApp,
) -> None:
    """A server run with a root path hands every request to uvicorn and the app, which honour it."""
    answers: list[list[Response]] = []
    for http in ("httptools", redirect_protocol(app.app)):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app, http=http, lifespan="off", root_path="/go", log_level="error", server_header=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            writer.write(get("/docs") + get("/go/docs"))
            answers.append([await read_response(reader), await read_response(reader)])
            writer.close()
        finally:
            server.should_exit = True
            await task
    stock, ours = answers
    assert [a.without_date() for a in ours] == [a.without_date() for a in stock]
    assert app.calls == 4  # both servers' requests reached the app


def paused_early(protocol: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """`protocol`, with tiny socket and transport buffers, so writing pauses after a few answers."""

    class Paused(protocol):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            transport.set_write_buffer_limits(high=0)
            super().connection_made(transport)

    return Paused


async def test_a_client_that_stops_reading_gets_every_answer_in_order_once_it_reads(
    app: CountingApp,
) -> None:
    """While writing is paused, requests go to uvicorn's path, which waits for the client."""
    count = 3000
    async with serving(app, paused_early(redirect_protocol(app.app))) as port:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        paths = ["/docs", "/perm"] * (count // 2)
        writer.write(b"".join(get(path) for path in paths))
        await asyncio.sleep(0.5)  # the client reads nothing yet: the server's writes back up
        answers = [await read_response(reader) for _ in paths]
        writer.close()
    assert [a.header(b"location") for a in answers] == [
        b"https://example.com/docs?x=1" if path == "/docs" else b"https://example.org/"
        for path in paths
    ]
    assert 0 < app.calls < count  # answered in the protocol until writing paused, then the app
