"""The request-framing rule of RFC 9112 the redirector enforces itself: exactly one Host.

uvicorn's parser accepts an HTTP/1.1 request without `Host` and one with two of them; RFC 9112
(section 3.2) says a server must answer both with 400, and a redirector that routes by `Host`
must not guess which of two was meant. The protocol's fast path hands such a request to the app,
and the app answers it (see `app`), so the rule holds on both paths and on any server.
"""

from collections.abc import Iterable


def host_problem(http_version: str, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why a request's Host headers are unacceptable, or None. Header names are lowercase."""
    hosts = 0
    for name, _ in headers:
        if name == b"host":
            hosts += 1
    if hosts > 1:
        return "more than one Host header"
    if not hosts and http_version == "1.1":
        return "an HTTP/1.1 request needs a Host header"
    return None
