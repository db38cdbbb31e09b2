"""Fuzzing: raw request bytes over a real socket, through the uvicorn protocol and the ASGI app.

A real uvicorn server with the redirector's protocol runs on 127.0.0.1 (in a thread, with its own
event loop) over a table holding every kind of link: plain ones the protocol answers itself, and
rules, templates, suffix modes, exact matching, hosts, time windows that only the app decides.
Hypothesis writes complete requests (methods, targets mutated from real slugs with separators,
encodings, control and non-ASCII bytes, versions, duplicate or missing Host headers, bodies,
pipelining, closes, upgrades) and plain random bytes (sent, then half-closed); every answer must
hold:

- the server raises nothing (no error logged, no request counted as an error) and sends no 5xx;
- a 3xx carries exactly one `Location`, absolute http(s) and ASCII 0x21-0x7E only; nothing else
  carries one;
- each request is answered within `ANSWER_SECONDS` (a bound that only a hang would break).

And differentially: a simple GET or HEAD, the kind the protocol may answer itself (a plain
redirect, a plain 404), gets the same answer from it as from uvicorn's own protocol and the app.

Examples are derandomized under the `ci` profile (the default: see `tests/conftest.py`), so `make
test` runs the same bounded set every time; `HYPOTHESIS_PROFILE=explore` searches afresh.
"""

import asyncio
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.protocol import redirect_protocol
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.state import RedirectorState
from tests.component.conftest import route, shard

#: Seconds any one request may take to be answered: far above what one takes, so that only a hang
#: (a request the server neither answers nor refuses) ends an example here.
ANSWER_SECONDS = 15.0
LOCATION = re.compile(rb"https?://[\x21-\x7e]+")
SLUGS = ("docs", "team-docs", "exact_one", "gh", "q", "s", "rules", "ab", "host-only", "old")


def table() -> dict[str, str]:
    rules = [
        {"when": {"devices": ["Mobile"]}, "url": "https://m.example.com/"},
        {"when": {"query": {"name": "v", "values": ["next"]}}, "url": "https://next.example/"},
        {"when": {"header": {"name": "X-Beta", "values": ["1"]}}, "url": "https://beta.example/"},
    ]
    split = [
        {
            "split": [
                {"weight": 1, "url": "https://a.example/"},
                {"weight": 3, "url": "https://b.example/x?y=1"},
            ]
        }
    ]
    return shard(
        route("docs", "https://example.com/docs?x=1"),
        route("team-docs", "https://example.com/team", 301),
        route("exact_one", "https://example.com/exact", 308, match="Exact"),
        route("gh", "https://github.com/acme/{path}"),
        route("q", "https://search.example/find?{query}", 307),
        route("s", "https://search.example/?q={path}", forwardQuery=False),
        route("rules", "https://example.com/", rules=rules),
        route("ab", "https://example.com/", rules=split),
        route("host-only", "https://example.org/h", host="go.example.com"),
        route("old", "https://example.com/old", expiresAt="2020-01-01T00:00:00Z"),
        route("reject", "https://example.com/r", pathSuffix="Reject"),
        route("ignore", "https://example.com/i", pathSuffix="Ignore"),
        route("later", "https://example.com/l", activeFrom="2100-01-01T00:00:00Z"),
        route(
            "gone",
            "https://example.com/g",
            expiresAt="2020-01-01T00:00:00Z",
            expiredURL="https://example.com/expired",
        ),
    )


class Recorder(logging.Handler):
    """Every error the server logs (uvicorn's 'Exception in ASGI application', asyncio's
    'protocol.data_received() call failed')."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Server:
    """A running server, its state, and what it reported (not a dataclass: Hypothesis would
    print the whole table in a failure report)."""

    def __init__(
        self, port: int, state: RedirectorState, errors: Recorder, raised: list[BaseException]
    ) -> None:
        self.port = port
        self.state = state
        self.errors = errors
        #: Exceptions raised in the protocol's parser callbacks. uvicorn turns them into a 400
        #: "Invalid HTTP request" like any malformed request, so only this tells them apart.
        self.raised = raised

    def __repr__(self) -> str:
        return f"Server(port={self.port})"


_CALLBACKS = (
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
)


def observed(
    protocol: type[asyncio.Protocol], raised: list[BaseException]
) -> type[asyncio.Protocol]:
    """`protocol`, unchanged, except that what its parser callbacks raise is also recorded."""

    def watch(callback: Callable[..., None]) -> Callable[..., None]:
        def watched(self: asyncio.Protocol, *args: object) -> None:
            try:
                callback(self, *args)
            except Exception as error:
                raised.append(error)
                raise

        return watched

    methods = {name: watch(getattr(protocol, name)) for name in _CALLBACKS}
    return type("Observed" + protocol.__name__, (protocol,), methods)


@contextmanager
def running(
    state: RedirectorState, http: Callable[..., type[asyncio.Protocol]]
) -> Iterator[Server]:
    """A uvicorn server on 127.0.0.1 in a thread of its own, with the protocol `http(app)`."""
    app = create_app(state)
    raised: list[BaseException] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=observed(http(app), raised),
        lifespan="off",
        access_log=False,
        server_header=False,
        log_level="error",
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: uvloop.run(uvicorn_server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    recorder = Recorder()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "asyncio")]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        while not uvicorn_server.started:
            threading.Event().wait(0.01)
        yield Server(sock.getsockname()[1], state, recorder, raised)
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


def _table_state() -> RedirectorState:
    state = RedirectorState(not_found_limiter=NotFoundLimiter(burst=0))
    load_all(state, {"s-0": table()})
    return state


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running(_table_state(), redirect_protocol) as server:
        yield server


@pytest.fixture(scope="module")
def stock_server() -> Iterator[Server]:
    """The same table behind uvicorn's own protocol: every request goes to the ASGI app."""
    with running(_table_state(), lambda app: HttpToolsProtocol) as server:
        yield server


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


def read_answers(sock: socket.socket, expected: int | None, *, head: list[bool]) -> list[Answer]:
    """`expected` answers (None: every answer until the server closes); a server that stays
    silent for `ANSWER_SECONDS` fails the example."""
    sock.settimeout(ANSWER_SECONDS)
    answers: list[Answer] = []
    buffer = b""
    while expected is None or len(answers) < expected:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                pytest.fail(f"no answer within {ANSWER_SECONDS} s after {len(answers)} answers")
            if not chunk:
                break  # closed: a refused request ends the connection
            buffer += chunk
            continue
        lines = buffer[:end].split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        pairs = []
        for line in lines[1:]:
            name, _, value = line.partition(b": ")
            pairs.append((name.lower(), value))
        length = int(dict(pairs).get(b"content-length", b"0"))
        if head and head[min(len(answers), len(head) - 1)]:
            length = 0
        while len(buffer) < end + 4 + length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        answers.append(Answer(status, pairs, buffer[end + 4 : end + 4 + length]))
        buffer = buffer[end + 4 + length :]
    return answers


def exchange(server: Server, data: bytes, requests: int | None, head: list[bool]) -> list[Answer]:
    """Send `data`, read the answers (with `requests` None, half-close and read them all)."""
    server.raised.clear()
    server.errors.records.clear()
    before = server.state.metrics.traffic.errors
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(data)
        if requests is None:
            sock.shutdown(socket.SHUT_WR)
        answers = read_answers(sock, requests, head=head)
    assert server.state.metrics.traffic.errors == before
    assert not server.errors.records, [r.getMessage() for r in server.errors.records]
    assert not server.raised, server.raised
    for answer in answers:
        assert answer.status < 500, answer
        locations = [value for name, value in answer.headers if name == b"location"]
        if 300 <= answer.status < 400:
            assert len(locations) == 1, answer
            assert LOCATION.fullmatch(locations[0]), answer
        else:
            assert locations == [], answer
    return answers


# Requests: a well-formed request with a few mutations at a time, so that both the clean paths
# (the protocol's own answers) and the odd ones are reached often.

_separators = st.sampled_from(["", "-", "_", ".", "/", "//", "+", "%", "%2F", "%00", "~", ";"])
_noise = st.binary(max_size=12).map(lambda b: b.decode("latin-1"))
_non_ascii = st.sampled_from(["\u212a", "é", "\u200b", "\u202e", "ß", "\ufeff", "\x7f", "\x00"])


def chance(draw: st.DrawFn, percent: int) -> bool:
    """True `percent` times in a hundred; shrinks towards False (no mutation)."""
    return draw(st.integers(0, 99)) >= 100 - percent


@st.composite
def targets(draw: st.DrawFn) -> bytes:
    slug = draw(st.sampled_from([*SLUGS, "reject", "ignore", "later", "gone", "nope", ""]))
    if chance(draw, 30):
        slug = "".join(c.upper() if draw(st.booleans()) else c for c in slug)  # other spellings
    parts = [slug]
    if chance(draw, 60):
        for _ in range(draw(st.integers(1, 3))):
            parts.append(draw(st.one_of(_separators, _noise, _non_ascii, st.text(max_size=8))))
    path = "/" + "".join(parts)
    if chance(draw, 10):
        path = draw(st.sampled_from(["", "/", "//", "http://evil.example", "*"])) + path
    query = ""
    if chance(draw, 30):
        query = draw(
            st.one_of(
                st.sampled_from(
                    ["?v=next", "?q=a+b", "?else", "?x=1&x=2", "?%zz", "?a=" + "b" * 3000]
                ),
                st.text(max_size=20).map(lambda q: "?" + q),
            )
        )
    return (path + query).encode("utf-8", "surrogatepass")


_header_names = st.sampled_from(
    [
        b"Host",
        b"Accept",
        b"User-Agent",
        b"Referer",
        b"X-Forwarded-For",
        b"X-Beta",
        b"Accept-Language",
        b"Connection",
        b"Upgrade",
        b"Expect",
    ]
)
_header_values = st.sampled_from(
    [
        b"go.example.com",
        b"go.example.com:8080",
        b"[::1]:80",
        b"",
        b"text/html",
        b"application/json",
        b"*/*",
        b"Mozilla/5.0 (iPhone) Mobile",
        b"1",
        b"close",
        b"keep-alive",
        b"upgrade",
        b"websocket",
        b"100-continue",
        b"203.0.113.9, 10.0.0.1",
        b"de-AT;q=0.9, *;q=0",
    ]
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, bool]:
    method = draw(st.sampled_from([b"GET", b"GET", b"GET", b"HEAD", b"HEAD"]))
    if chance(draw, 20):
        method = draw(
            st.one_of(
                st.sampled_from([b"POST", b"OPTIONS", b"DELETE", b"PUT", b"get", b"CONNECT"]),
                st.binary(min_size=1, max_size=8),
            )
        )
    version = b"HTTP/1.1"
    if chance(draw, 15):
        version = draw(st.sampled_from([b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b"HTTP/0.9"]))
    lines = [method + b" " + draw(targets()) + b" " + version]
    if not chance(draw, 10):
        lines.append(b"Host: " + draw(st.sampled_from([b"go.example.com", b"other.example"])))
    if chance(draw, 40):
        for name, value in draw(st.lists(st.tuples(_header_names, _header_values), max_size=3)):
            lines.append(name + b": " + value)
    if chance(draw, 10):
        lines.append(draw(st.binary(max_size=30)))  # a header line of anything
    body = b""
    if chance(draw, 15):
        body = draw(st.binary(max_size=64))
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body, method == b"HEAD"


FUZZ = settings(
    deadline=None,  # the bound per request is ANSWER_SECONDS, enforced above
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.lists(requests(), min_size=1, max_size=3))
def test_any_requests_get_safe_answers(server: Server, batch: list[tuple[bytes, bool]]) -> None:
    data = b"".join(request for request, _ in batch)
    exchange(server, data, len(batch), head=[head for _, head in batch])


@FUZZ
@given(st.binary(min_size=1, max_size=300))
def test_any_bytes_get_safe_answers_or_none(server: Server, data: bytes) -> None:
    # Bytes are rarely a complete request: half-close, and check whatever comes back.
    exchange(server, data, None, head=[data.startswith(b"HEAD")])


def test_the_fuzzed_table_answers_both_paths(server: Server) -> None:
    """The fuzzing above reaches the protocol's own answers and the app's (not only errors)."""
    fast = exchange(server, b"GET /docs HTTP/1.1\r\nHost: go.example.com\r\n\r\n", 1, head=[False])
    app = exchange(server, b"GET /gh/a/b HTTP/1.1\r\nHost: go.example.com\r\n\r\n", 1, head=[False])
    assert [fast[0].status, app[0].status] == [302, 302]


@st.composite
def simple_requests(draw: st.DrawFn) -> tuple[bytes, bool]:
    """One GET or HEAD of the kind the protocol may answer itself, in many spellings."""
    method = draw(st.sampled_from([b"GET", b"HEAD"]))
    lines = [method + b" " + draw(targets()) + b" HTTP/1.1"]
    lines.append(b"Host: " + draw(st.sampled_from([b"go.example.com", b"other.example"])))
    if chance(draw, 50):
        accept = [b"*/*", b"text/html", b"application/json", b"text/plain", b""]
        lines.append(b"Accept: " + draw(st.sampled_from(accept)))
    return b"\r\n".join(lines) + b"\r\n\r\n", method == b"HEAD"


@FUZZ
@given(simple_requests())
def test_the_protocols_own_answers_are_the_apps(
    server: Server, stock_server: Server, request: tuple[bytes, bool]
) -> None:
    """Whatever the protocol answers itself (a plain redirect, a plain 404), the app would have
    answered the same way: same status, headers (but the date) and body."""
    data, head = request
    [ours] = exchange(server, data, 1, head=[head])
    [stock] = exchange(stock_server, data, 1, head=[head])
    assert (ours.status, ours.body) == (stock.status, stock.body)
    assert [h for h in ours.headers if h[0] != b"date"] == [
        h for h in stock.headers if h[0] != b"date"
    ]
