"""What a rule may ask about a visitor: device, languages, and a sticky bucket for splits.

Device classes are the ones the metrics count (`classify`), named as the CRD spells them. Nothing
here stores or exports a raw header or address.
"""

import hashlib
from functools import lru_cache
from typing import Final

from shortlink_redirector.addresses import anonymise, client_address
from shortlink_redirector.classify import VISITOR_CLASSES, visitor_class

#: `classify`'s visitor classes as `spec.rules[].when.devices` names them.
DEVICE_NAMES: Final = tuple(name.capitalize() for name in VISITOR_CLASSES)


def device(user_agent: str) -> str:
    """Mobile, Tablet, Desktop or Bot (an empty User-Agent counts as a Bot)."""
    return DEVICE_NAMES[visitor_class(user_agent.encode("latin-1", "replace"))]


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


def bucket(client: str, user_agent: str, total: int) -> int:
    """A stable number in [0, total) for a visitor, for sticky A/B splits without cookies.

    The visitor is its anonymised network and User-Agent. blake2b rather than crc32: crc32's low
    bits follow small input changes too closely, which skews a split between similar visitors.
    """
    visitor = f"{anonymise(client_address(client, '', ()))}|{user_agent}"
    digest = hashlib.blake2b(visitor.encode(), digest_size=8).digest()
    return int.from_bytes(digest) % total
