"""uvicorn's httptools protocol, answering the plain redirect as soon as its headers are parsed.

For a GET or HEAD of a uniform link's exact slug (`RoutingTable.fast`) the answer is prepared when
the table loads, yet uvicorn would still spend most of the request's time around the app: an ASGI
scope, a request-response cycle with its Event, a Task per request, and a header check for every
header the app sends. Here that request is answered from the parser callback with one write of the
prepared bytes, and counted the same way the app counts it. Everything else goes through uvicorn
and the ASGI app unchanged, and so does any request where uvicorn's own handling matters:

- a connection that closes after the answer (HTTP/1.0, `Connection: close`), since uvicorn adds
  its `connection: close` header and closes the transport;
- a request pipelined behind one the app is still answering (answers must keep their order), or
  a client that has stopped reading (the app path waits for the transport to drain);
- an upgrade, a percent-encoded or absolute-form URL, a query string (none is in `fast`), and any
  server running with a root path, which the app path would honour;
- a request without exactly one valid Host header (the app answers 400), and a route whose
  Location is longer than `--max-location-bytes` (the app answers 414).

The plain 404 (or 429) of a GET or HEAD that `notfound.quick_answer` can tell is a not-found for a
client that shows no page is answered here the same way, under the same conditions, so probing
unknown slugs costs about what a redirect costs.

The bytes written are the ones uvicorn writes for the same answer: the status line, uvicorn's
default headers (the date), then the route's headers. This subclasses uvicorn's protocol, so the
uvicorn version is pinned exactly and `tests/component/test_protocol.py` holds the two paths to
the same bytes over a real socket.
"""

import asyncio
from http import HTTPStatus
from time import perf_counter
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from shortlink_core.link import REDIRECT_CODES
from shortlink_redirector.app import Redirector
from shortlink_redirector.framing import KNOWN_HOSTS, valid_host
from shortlink_redirector.notfound import quick_answer

#: The uvicorn release this module was written against (pinned exactly in pyproject.toml);
#: `tests/component/test_uvicorn_coupling.py` fails when the installed one differs.
UVICORN_VERSION = "0.54.0"

Headers = list[tuple[bytes, bytes]]
_STATUS_LINES = {
    code: f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n".encode()
    for code in (*REDIRECT_CODES, 404, 429)
}


class _DefaultHeaders:
    """uvicorn's default headers as bytes, rendered again only when the server replaces them.

    The server swaps in a new list once a second (the date), so an identity check is enough.
    """

    def __init__(self) -> None:
        self._source: Headers | None = None
        self._block = b""
        self._heads: dict[int, bytes] = {}

    def block(self, headers: Headers) -> bytes:
        if headers is not self._source:
            self._render(headers)
        return self._block

    def redirect_head(self, headers: Headers, status: int) -> bytes:
        """A redirect's bytes up to its Location: status line, default headers, `location: `."""
        if headers is not self._source:
            self._render(headers)
        return self._heads[status]

    def _render(self, headers: Headers) -> None:
        self._block = b"".join(b"%s: %s\r\n" % header for header in headers)
        self._heads = {
            code: _STATUS_LINES[code] + self._block + b"location: " for code in REDIRECT_CODES
        }
        self._source = headers


def redirect_protocol(redirector: Redirector) -> type[HttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` answering `redirector`'s plain redirects."""
    default_headers = _DefaultHeaders()
    state = redirector.state
    known_hosts = KNOWN_HOSTS

    class RedirectProtocol(HttpToolsProtocol):
        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            #: uvicorn puts a root path in front of every path: then no path is a bare slug.
            self._enabled = not self.root_path
            #: True while the message being parsed was answered here, so uvicorn must not
            #: look for its request-response cycle when the parser reports the body.
            self._answered = False
            #: How many Host headers the message being parsed has, and the last one's value.
            self._hosts = 0
            self._host = b""

        def on_message_begin(self) -> None:
            self._answered = False
            # A keep-alive timer armed after an answer given here, earlier in the same read, must
            # not close the connection under a request the app is still answering.
            self._unset_keepalive_if_required()
            # uvicorn also builds the ASGI scope here; `_hand_to_app` builds it only for the
            # requests that need one (two dicts fewer per redirect: 0.6 µs of 3.9).
            self.url = b""
            self.expect_100_continue = False
            self.headers = []
            self._hosts = 0
            self._host = b""

        def on_header(self, name: bytes, value: bytes) -> None:
            # uvicorn's own handling (lowercase the name, note `Expect: 100-continue`, keep the
            # pair), counting Host headers on the way: a second pass over the headers would
            # cost more.
            name = name.lower()
            if name == b"host":
                self._hosts += 1
                self._host = value
            elif name == b"expect" and value.lower() == b"100-continue":
                self.expect_100_continue = True
            self.headers.append((name, value))

        def _hand_to_app(self) -> None:
            """uvicorn's own handling, with the scope its message-begin callback would build."""
            parsed = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()
            self.url, self.headers, self.expect_100_continue = parsed
            self.scope["headers"] = self.headers
            super().on_headers_complete()

        def on_headers_complete(self) -> None:
            started = perf_counter()
            parser = self.parser
            served = None
            if (
                self._enabled
                and (self.cycle is None or self.cycle.response_complete)
                and not self.flow.write_paused
                and parser.get_method() in (b"GET", b"HEAD")
            ):
                # Slugs are lowercase ASCII without "%", "?" or "#": a hit means the URL is
                # exactly a slug's path. Latin-1 decodes any bytes, so nothing else can match.
                served = state.table.fast.get(self.url.decode("latin-1"))
            if (
                served is None
                or parser.get_http_version() != "1.1"
                or not parser.should_keep_alive()
                or parser.should_upgrade()
                or len(served.route.link.url) > state.serving.max_location_bytes  # app: 414
            ):
                if served is not None or not self._answer_not_found(started):
                    self._hand_to_app()
                return
            # RFC 9112: an HTTP/1.1 request has exactly one valid Host; the app answers 400
            # otherwise (see `framing`).
            host = self._host
            if self._hosts != 1 or not (known_hosts.get(host) or valid_host(host)):
                self._hand_to_app()
                return
            self._answered = True
            # Encoded per request rather than kept: 94 bytes a link at rest, 50 ns a redirect.
            location = served.route.link.url.encode("ascii")
            self.transport.write(
                default_headers.redirect_head(self.server_state.default_headers, served.status)
                + location
                + served.tail
            )
            redirector.count_redirect(
                served, served.status, location, self.headers, self.client, started
            )
            self._log_access(served.status)
            self.on_response_complete()

        def _answer_not_found(self, started: float) -> bool:
            """Answer a certain not-found here, under the conditions of a plain redirect."""
            parser = self.parser
            if not (
                self._enabled
                and (self.cycle is None or self.cycle.response_complete)
                and not self.flow.write_paused
                and parser.get_method() in (b"GET", b"HEAD")
                and parser.get_http_version() == "1.1"
                and parser.should_keep_alive()
                and not parser.should_upgrade()
                and self._hosts == 1
                and (known_hosts.get(self._host) or valid_host(self._host))
            ):
                return False
            answer = quick_answer(state, redirector.own_paths, self.url, self.headers, self.client)
            if answer is None:
                return False
            self._answered = True
            self.transport.write(
                _STATUS_LINES[answer.status]
                + default_headers.block(self.server_state.default_headers)
                + answer.block
                + (answer.body if parser.get_method() == b"GET" else b"")
            )
            redirector.count_other(started)
            self._log_access(answer.status)
            self.on_response_complete()
            return True

        def _log_access(self, status: int) -> None:
            if self.access_log:  # uvicorn's line, for a server run with its access log on
                client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
                method, path = self.parser.get_method().decode(), self.url.decode()
                # The same message and arguments as uvicorn's: its access formatter unpacks them.
                self.access_logger.info(
                    '%s - "%s %s HTTP/%s" %d', client, method, path, "1.1", status
                )

        def on_body(self, body: bytes) -> None:
            if not self._answered:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._answered:
                super().on_message_complete()

    return RedirectProtocol
