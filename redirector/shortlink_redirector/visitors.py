"""What the redirector may learn about a visitor: device class, languages, a sticky bucket.

All of it comes from request headers and is used only to pick a destination (and, in metrics, as a
bounded class); nothing here stores or exports a raw header or address.
"""

import hashlib
import ipaddress
import re
from functools import lru_cache
from typing import Final

_BOT: Final = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|preview|curl|wget|httpclient|python-requests|go-http-client",
    re.I,
)
_TABLET: Final = re.compile(r"ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))", re.I)
_MOBILE: Final = re.compile(
    r"mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini", re.I
)


@lru_cache(maxsize=4096)
def device_class(user_agent: str) -> str:
    """Mobile, Tablet, Desktop or Bot (an empty User-Agent counts as a Bot)."""
    if not user_agent or _BOT.search(user_agent):
        return "Bot"
    if _TABLET.search(user_agent):
        return "Tablet"
    if _MOBILE.search(user_agent):
        return "Mobile"
    return "Desktop"


@lru_cache(maxsize=1024)
def preferred_languages(accept_language: str) -> tuple[str, ...]:
    """Language tags from Accept-Language, lowercase, most preferred first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag.lower()))
    return tuple(tag for _, _, tag in sorted(ranked))


def language_matches(wanted: tuple[str, ...], preferred: tuple[str, ...]) -> bool:
    """True when a preferred language falls under one of the wanted ranges ("de" covers "de-at")."""
    return any(tag == w or tag.startswith(w + "-") for tag in preferred for w in wanted)


def bucket(visitor: str, total: int) -> int:
    """A stable number in [0, total) for a visitor, for sticky A/B splits without cookies.

    blake2b rather than crc32: crc32's low bits follow small input changes too closely, which
    skews the split between visitors whose addresses differ in one digit.
    """
    digest = hashlib.blake2b(visitor.encode(), digest_size=8).digest()
    return int.from_bytes(digest) % total


@lru_cache(maxsize=4096)
def anonymise(address: str) -> str:
    """An IPv4 address cut to its /24, an IPv6 address to its /48; anything else unchanged."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
