"""Generated slugs: short codes derived from a ShortLink's identity, the same in every cluster.

The code is HMAC-SHA256(key, "namespace/name") written in an alphabet without look-alike
characters (no 0/o, 1/l/i), so it survives being read aloud or retyped. Its first
`DEFAULT_LENGTH` characters are used; when that code is already claimed on the link's host (or is
a reserved slug), the code grows one character at a time until it is free, so two links never
silently share one. A link that already serves a code keeps it.
"""

import hashlib
import hmac
from typing import Final

from shortlink_core.matching import reserved_as, routing_key

ALPHABET: Final = "23456789abcdefghjkmnpqrstuvwxyz"
DEFAULT_LENGTH: Final = 7


def full_code(key: bytes, namespace: str, name: str) -> str:
    """Every character the HMAC gives (about 51); a generated slug is a prefix of it."""
    number = int.from_bytes(hmac.new(key, f"{namespace}/{name}".encode(), hashlib.sha256).digest())
    digits = []
    while number:
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(digits)


def choose_code(code: str, *, host: str, taken: set[str], keep: str | None = None) -> str:
    """The shortest free prefix of `code` (at least DEFAULT_LENGTH), or `keep` if it still fits.

    `taken` holds the routing keys already claimed; the chosen code's key is added to it.
    """
    chosen = code
    if keep and len(keep) >= DEFAULT_LENGTH and code.startswith(keep):
        chosen = keep
    else:
        for length in range(DEFAULT_LENGTH, len(code) + 1):
            prefix = code[:length]
            if routing_key(host, prefix) not in taken and reserved_as(prefix) is None:
                chosen = prefix
                break
    taken.add(routing_key(host, chosen))
    return chosen
