"""What makes a slug and a target URL acceptable.

These rules are the same ones the CRD states as OpenAPI and CEL (see `crds/`); the operator and the
redirector apply them again because a link can reach them past the schema (an older CRD, a
hand-edited routing ConfigMap). Each failure is an `InvalidLink` whose message a person can act on.
"""

import re
import string
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from shortlink_core.matching import reserved_as

SLUG_MAX_LENGTH: Final = 100
URL_MAX_LENGTH: Final = 2048
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
SLUG_PATTERN: Final = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
HOST_PATTERN: Final = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)

# Letters only, so normalisation leaves them alone wherever they stand.
_PATH_MARK: Final = "SHORTLINKPATHPLACEHOLDER"
_QUERY_MARK: Final = "SHORTLINKQUERYPLACEHOLDER"
_CONTROL_OR_SPACE: Final = re.compile(r"[\x00-\x20\x7f]")
# Characters kept as they are when a URL is made ASCII: everything RFC 3986 allows, plus "%" so
# that what is already percent-encoded is not encoded twice.
_URL_SAFE: Final = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%"


class InvalidLink(ValueError):
    """A link that can never be served as written; the message says why, for a person."""


def validate_host(host: str) -> str:
    """Return the ASCII, lowercase form of a short-link host name, or raise `InvalidLink`."""
    try:
        ascii_host = host.strip().lower().encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidLink(f"host {host!r} is not a valid host name") from None
    if not HOST_PATTERN.fullmatch(ascii_host):
        raise InvalidLink(
            f"host {host!r} must be a DNS name such as go.example.com, without a port"
        )
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


def normalize_target(url: str) -> str:
    """Like `normalize_url`, but `{path}` and `{query}` may stand in the path, query or fragment."""
    marked = url.replace("{path}", _PATH_MARK).replace("{query}", _QUERY_MARK)
    if "{" in marked or "}" in marked:
        raise InvalidLink("url may contain only the placeholders {path} and {query}")
    normalized = normalize_url(marked)
    host = normalized.split("/", 3)[2]  # already lowercase
    if _PATH_MARK.lower() in host or _QUERY_MARK.lower() in host:
        raise InvalidLink("placeholders may not stand in the host")
    return normalized.replace(_PATH_MARK, "{path}").replace(_QUERY_MARK, "{query}")


def normalize_url(url: str) -> str:
    """Return the ASCII form of an acceptable target URL, or raise `InvalidLink`.

    The result is safe to put in a `Location` header as it is: http(s) only, a host, no
    credentials, no whitespace or control characters, international host names in IDNA form and
    other non-ASCII characters percent-encoded.
    """
    if len(url) > URL_MAX_LENGTH:
        raise InvalidLink(f"url must be at most {URL_MAX_LENGTH} characters, not {len(url)}")
    if _CONTROL_OR_SPACE.search(url):
        raise InvalidLink("url must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when the port is not a number in range
    except ValueError as error:
        raise InvalidLink(f"url is not a valid URL: {error}") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InvalidLink(
            "url must be an absolute http:// or https:// URL "
            f"(got scheme {parts.scheme + ':' if parts.scheme else 'none'})"
        )
    if "@" in parts.netloc:
        raise InvalidLink("url must not contain credentials (user:password@)")
    if not parts.hostname:
        raise InvalidLink("url must have a host")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidLink(f"url host {parts.hostname!r} is not a valid host name") from None
    if ":" in host:  # an IPv6 literal: urlsplit removed its brackets
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )
