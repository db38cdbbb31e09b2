"""A real HTTP server on 127.0.0.1 to probe: one path per kind of target answer.

Used by the prober's unit tests (`tests/unit/test_http_probe.py`) and the cluster tier
(`tests/cluster/test_target_probes.py`). It runs in threads of the test process and counts the
requests it gets, by method and path, so a test can tell what the prober asked and what it did
not (the redirect's destination, a body).
"""

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shortlink_localcluster.controlplane import free_port

#: Where /moved points: the cloud metadata address, which a probe must never reach.
REDIRECT_DESTINATION = "http://169.254.169.254/latest/meta-data/"


@dataclass
class TargetServer:
    port: int
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Released at shutdown: /slow holds its request until then.
    released: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: TargetServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requests[(self.command, path)] += 1
            if path == "/slow":
                server.released.wait(60)  # longer than any probe timeout in the tests
                return
            if path == "/no-head" and self.command == "HEAD":
                self._send(405, {"Allow": "GET"})
            elif path in ("/ok", "/no-head"):
                self._send(200, {}, body=b"x" * 100_000)
            elif path == "/moved":
                self._send(302, {"Location": REDIRECT_DESTINATION})
            elif path == "/broken":
                self._send(503, {})
            else:
                self._send(404, {})

        def _send(self, code: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET" and body:
                # The prober hangs up after the headers, as it should.
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def target_server() -> Iterator[TargetServer]:
    state = TargetServer(port=free_port())
    httpd = ThreadingHTTPServer(("127.0.0.1", state.port), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="probe-targets", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
