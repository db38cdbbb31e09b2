"""A ShortLink as the rest of shortlink sees it: validated, normalised, detached from the API.

`parse_link` turns the `spec` of a ShortLink object into a `Link` or raises `InvalidLink`; it is the
only place that knows the spec's field names and defaults.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shortlink_core.validation import InvalidLink, normalize_url, validate_slug

REDIRECT_CODES: Final = (301, 302, 307, 308)
DEFAULT_REDIRECT_CODE: Final = 302


@dataclass(frozen=True, slots=True)
class Link:
    """What a ShortLink asks to be served: `slug` → `url` with `redirect_code`."""

    slug: str
    url: str
    redirect_code: int = DEFAULT_REDIRECT_CODE


def parse_link(spec: Mapping[str, Any], *, name: str) -> Link:
    """Validate a ShortLink's spec; the slug defaults to the object's `name`."""
    url = spec.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidLink("spec.url is required")
    slug = spec.get("slug") or name
    if not isinstance(slug, str):
        raise InvalidLink("spec.slug must be a string")
    code = spec.get("redirectCode", DEFAULT_REDIRECT_CODE)
    if code not in REDIRECT_CODES or isinstance(code, bool):
        allowed = ", ".join(map(str, REDIRECT_CODES))
        raise InvalidLink(f"spec.redirectCode must be one of {allowed}, not {code!r}")
    return Link(slug=validate_slug(slug), url=normalize_url(url), redirect_code=code)
