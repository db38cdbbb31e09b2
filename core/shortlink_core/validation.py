"""What makes a slug and a short-link host acceptable.

These rules are the same ones the CRD states as OpenAPI and CEL (see `crds/`); the operator and the
redirector apply them again because a link can reach them past the schema (an older CRD, a
hand-edited routing ConfigMap). Each failure is an `InvalidLink` whose message a person can act on.
Target URLs are judged in `targets`.
"""

import re
from typing import Final

from shortlink_core.errors import InvalidLink
from shortlink_core.matching import reserved_as
from shortlink_core.targets import judge_host

__all__ = ["InvalidLink", "validate_host", "validate_slug"]

SLUG_MAX_LENGTH: Final = 100
SLUG_PATTERN: Final = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
HOST_PATTERN: Final = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)


def validate_host(host: str) -> str:
    """Return the ASCII, lowercase form of a short-link host name, or raise `InvalidLink`."""
    # The same IDNA 2008 mapping as a target's host, so a link's host and a target pointing
    # back at it compare equal (see `targets`).
    message = f"host {host!r} must be a DNS name such as go.example.com, without a port"
    try:
        ascii_host = judge_host(host.strip())
    except InvalidLink as error:
        raise InvalidLink(f"{message} ({error})") from None
    if not HOST_PATTERN.fullmatch(ascii_host):
        raise InvalidLink(message)
    return ascii_host


def validate_slug(slug: str) -> str:
    """Return `slug` if it may be served, or raise `InvalidLink` saying what is wrong."""
    if not slug:
        raise InvalidLink("slug must not be empty")
    if len(slug) > SLUG_MAX_LENGTH:
        raise InvalidLink(f"slug must be at most {SLUG_MAX_LENGTH} characters, not {len(slug)}")
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidLink(
            f"slug {slug!r} may contain only lowercase letters, digits, '-', '_' and '.', "
            "and must start and end with a letter or digit"
        )
    reserved = reserved_as(slug)
    if reserved is not None:
        raise InvalidLink(
            f"slug {slug!r} is reserved: it matches {reserved!r} (case and the separators "
            "'-', '_' and '.' do not count)"
        )
    return slug
