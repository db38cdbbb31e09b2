"""Which addresses the target prober may connect to (pure).

Probes start from the operator's pod, inside the cluster network, at URLs anyone who may create a
ShortLink chooses. So by default the prober connects only to public unicast addresses: never to
loopback, private (RFC 1918, unique-local), link-local (the cloud metadata endpoint
169.254.169.254), shared carrier-grade NAT (often a cluster's own pod or node range), multicast,
reserved or documentation ranges. IPv6 forms that carry an IPv4 address (IPv4-mapped, the NAT64
well-known prefix, 6to4) are judged by the IPv4 address they reach. `--probe-private-addresses`
lifts the rule (`http_probe` consults it for every address a name resolves to, and connects to
the address it judged, so a name cannot resolve to another one in between).
"""

import ipaddress
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED: Final = ipaddress.ip_network("100.64.0.0/10")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR: Final = ipaddress.ip_network("2002::/16")


def refusal(address: str) -> str | None:
    """Why the prober must not connect to `address` ("a loopback address"...), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone names no other host
    except ValueError:
        return "not an IP address"
    embedded = _embedded(ip)
    return _kind(embedded) if embedded is not None else _kind(ip)


def _embedded(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through mapping, NAT64 or 6to4."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _kind(ip: IPAddress) -> str | None:
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _SHARED, "a shared (carrier-grade NAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
    )
    for applies, reason in checks:
        if applies:
            return reason
    return None if ip.is_global else "not a public address"
