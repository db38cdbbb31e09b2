"""The request-framing rule of RFC 9110/9112 the redirector enforces itself: exactly one valid Host.

uvicorn's parser accepts an HTTP/1.1 request without `Host`, one with two of them, and one whose
`Host` is not a host at all; RFC 9110 (section 7.2) and RFC 9112 (section 3.2) say a server must
answer all three with 400, and a redirector that routes by `Host` must not guess which host was
meant. The protocol's fast path hands such a request to the app, and the app answers it (see
`app`), so the rule holds on both paths and on any server.
"""

import re
from collections.abc import Iterable
from typing import Final

#: RFC 3986 `host [ ":" port ]`: an IP literal in brackets, or a non-empty reg-name / IPv4
#: address (an http URI never has an empty host, RFC 9110 section 4.2.1).
_HOST: Final = re.compile(
    rb"(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|[0-9A-Za-z._~!$&'()*+,;=%-]+)(?::[0-9]*)?"
)


#: Host values already judged. Real traffic repeats a few; the bound keeps a client sending
#: random ones from growing memory. A plain dict: the fast path reads it directly.
KNOWN_HOSTS: Final[dict[bytes, bool]] = {}
KNOWN_HOSTS_BOUND: Final = 1024


def valid_host(value: bytes) -> bool:
    """True when `value` is a Host header a URI could have given."""
    known = KNOWN_HOSTS.get(value)
    if known is None:
        if len(KNOWN_HOSTS) >= KNOWN_HOSTS_BOUND:
            KNOWN_HOSTS.clear()
        known = KNOWN_HOSTS[value] = _HOST.fullmatch(value) is not None
    return known


def host_problem(http_version: str, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why a request's Host headers are unacceptable, or None. Header names are lowercase."""
    hosts = 0
    host = b""
    for name, value in headers:
        if name == b"host":
            hosts += 1
            host = value
    if hosts > 1:
        return "more than one Host header"
    if not hosts:
        return "an HTTP/1.1 request needs a Host header" if http_version == "1.1" else None
    if not valid_host(host):
        return "the Host header is not a host name"
    return None
