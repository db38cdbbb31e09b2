"""Client addresses as the visit log may keep them: from a trusted proxy's header, anonymised.

A request's peer is the client unless the peer is one of the configured trusted proxies; then the
client is the nearest address in `X-Forwarded-For` (read right to left) that is not itself a
trusted proxy. A header from anyone else is ignored, since any client can write one. The address
is then cut to its network (IPv4 /24, IPv6 /48), so the log never holds a full address.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48
#: Distinct (peer, X-Forwarded-For) pairs remembered by `client_network`.
NETWORK_CACHE_SIZE: Final = 4096


def parse_networks(text: str) -> tuple[Network, ...]:
    """Networks from a comma-separated list of CIDRs or addresses; ValueError names a bad one."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as error:
            raise ValueError(f"not an IP network: {item!r}") from error
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: str, trusted: Sequence[Network]
) -> Address | None:
    """The client of a request from socket peer `peer` (None when unknown, e.g. a UNIX socket)."""
    address = _address(peer) if peer else None
    if address is None or not _trusted(address, trusted):
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop)
        if hop_address is None:
            break  # a hop we cannot read: the last trusted one is as far as we can vouch for
        address = hop_address
        if not _trusted(address, trusted):
            break
    return address


def anonymise(address: Address | None) -> str:
    """The network of `address` (IPv4 /24, IPv6 /48) as text, e.g. 203.0.113.0; "" if unknown."""
    if address is None:
        return ""
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network((address, prefix), strict=False).network_address)


@lru_cache(maxsize=NETWORK_CACHE_SIZE)
def client_network(peer: str | None, forwarded_for: bytes, trusted: tuple[Network, ...]) -> str:
    """The anonymised network of a request's client, memoised: one client sends many requests,
    and parsing addresses costs microseconds."""
    return anonymise(client_address(peer, forwarded_for.decode("latin-1"), trusted))
