"""The public address of a short link, as inspect pages and QR codes show it.

Behind a TLS-terminating ingress the redirector sees plain HTTP, so the request's own scheme is
not what visitors used. The short URL is built, in order of preference, from `--public-base-url`
(the same value as the operator's, so the page shows what `status.shortURL` says), or from the
request: its `Host` header and its scheme, which `X-Forwarded-Proto` overrides only when the peer
is one of `--trusted-proxies` (anyone else could send the header). A link with a host of its own
is shown on that host, with the public base URL's scheme, as the operator does.
"""

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

from shortlink_redirector.addresses import Network

FORWARDED_SCHEMES = ("http", "https")


def short_url(
    scope: Scope, *, slug: str, link_host: str, base_url: str, trusted_proxies: Sequence[Network]
) -> str:
    """The URL a visitor uses for `slug` (served on `link_host`, or on every host when empty)."""
    if base_url:
        if not link_host:
            return f"{base_url}/{slug}"
        return f"{base_url.split('://', 1)[0]}://{link_host}/{slug}"
    scheme = request_scheme(scope, trusted_proxies)
    # The request was routed by its Host header, so it names the link's host (port included).
    host = _header(scope, b"host") or link_host or _server(scope)
    return f"{scheme}://{host}/{slug}"


def request_scheme(scope: Scope, trusted_proxies: Sequence[Network]) -> str:
    """The scheme the visitor used: the connection's, or a trusted proxy's X-Forwarded-Proto."""
    scheme = str(scope.get("scheme", "http"))
    forwarded = _header(scope, b"x-forwarded-proto")
    if forwarded and _trusted(scope, trusted_proxies):
        # The first value is the scheme the client used at the outermost proxy.
        first = forwarded.split(",", 1)[0].strip().lower()
        if first in FORWARDED_SCHEMES:
            return first
    return scheme


def _trusted(scope: Scope, networks: Sequence[Network]) -> bool:
    client = scope.get("client")
    if not client or not networks:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _server(scope: Scope) -> str:
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else "localhost"
