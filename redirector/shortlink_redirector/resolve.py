"""Where a request goes: the redirect decision for any request that is not a plain, uniform one.

`resolve` is a pure function of the table, the request and the time. It applies, in order: host
and slug lookup (case- and separator-insensitive unless the link says Exact), the inspect page
(`+`), suspension (a suspended link is in the table for its page only and never redirected:
`Suspended`), the link's time window (404 before `activeFrom`; after `expiresAt` its
`expiredURL`, or 410), the path suffix (append, ignore or reject), the first matching rule
(device, language, country, header, query, time, or a sticky weighted split), templates, and
query forwarding. Every Location it returns is an absolute http(s) URL of visible ASCII
characters, at most `max_location` bytes long (longer is `TooLong`, answered 414).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, unquote

from starlette.types import Scope

from shortlink_core.link import Link, Rule
from shortlink_core.templates import append_suffix, is_template, merge_query, render
from shortlink_redirector.state import DEFAULT_MAX_LOCATION_BYTES
from shortlink_redirector.table import RoutingTable, ServedRoute, redirect_headers
from shortlink_redirector.visitors import bucket, device, language_matches, preferred_languages

#: An absolute http(s) URL of visible ASCII characters, with a host.
_SAFE_LOCATION: Final = re.compile(r"https?://(?:(?![/?#\\])[!-~])+(?:[/?#][!-~]*)?", re.I)


@dataclass(frozen=True, slots=True)
class Visit:
    """The parts of a request a decision may depend on."""

    host: str
    path: str  # percent-encoded, as sent
    query: str
    headers: Mapping[str, str]  # lowercase names
    client: str


@dataclass(frozen=True, slots=True)
class Redirect:
    served: ServedRoute
    status: int
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class NotFound:
    slug: str


@dataclass(frozen=True, slots=True)
class Gone:
    served: ServedRoute


@dataclass(frozen=True, slots=True)
class Suspended:
    """A suspended link: never redirected; answered 404 (a page for browsers, see `pages`)."""

    served: ServedRoute


@dataclass(frozen=True, slots=True)
class TooLong:
    """A redirect whose Location would exceed the configured cap: answered 414, never sent."""

    served: ServedRoute


@dataclass(frozen=True, slots=True)
class Inspect:
    served: ServedRoute
    view: str  # "page", "qr.svg" or "qr.png"


Decision = Redirect | NotFound | Gone | Inspect | Suspended | TooLong


def split_path(path: str) -> tuple[str, str]:
    """`/Slug/rest/of/path` → ("Slug", "rest/of/path"); the slug is percent-decoded."""
    head, _, rest = path.lstrip("/").partition("/")
    return unquote(head), rest


def resolve(
    table: RoutingTable,
    visit: Visit,
    *,
    now: float,
    max_age: int,
    country_header: str,
    max_location: int = DEFAULT_MAX_LOCATION_BYTES,
) -> Decision:
    segment, suffix = split_path(visit.path)
    slug, plus, view = segment.partition("+")
    served = table.lookup(visit.host, slug)
    if served is None:
        return NotFound(slug)
    link = served.route.link
    if plus:
        return (
            Inspect(served, view or "page") if view in ("", "qr.svg", "qr.png") else NotFound(slug)
        )
    if link.suspended:  # routed only so that its pages can say whom to ask; never redirected
        return Suspended(served)
    if link.active_from is not None and now < link.active_from:
        return NotFound(slug)
    if link.expires_at is not None and now >= link.expires_at:
        if link.expired_url is None:
            return Gone(served)
        # The fallback is temporary.
        return _redirect(served, link.expired_url, 302, max_age=0, max_location=max_location)
    if suffix and link.path_suffix == "Reject":
        return NotFound(slug)
    if link.path_suffix == "Ignore":
        suffix = ""
    target = _destination(link, visit, now=now, country_header=country_header)
    if is_template(target):
        target = render(target, suffix=suffix, query=visit.query)
    elif suffix:
        target = append_suffix(target, suffix)
    if link.forward_query and "{query}" not in link.url and visit.query:
        target = merge_query(target, visit.query)
    cacheable = served.uniform and not suffix and not visit.query
    return _redirect(
        served,
        target,
        link.redirect_code,
        max_age=max_age if cacheable else 0,
        max_location=max_location,
    )


def _redirect(
    served: ServedRoute, location: str, code: int, *, max_age: int, max_location: int
) -> Decision:
    if not _SAFE_LOCATION.fullmatch(location):
        # Unreachable for validated links; a last guard against ever emitting a bad Location.
        return NotFound(served.route.slug)
    if len(location) > max_location:  # ASCII (checked above): characters are bytes
        return TooLong(served)
    headers = redirect_headers(location, code=code, cacheable=max_age > 0, max_age=max_age)
    return Redirect(served, code, headers)


def _destination(link: Link, visit: Visit, *, now: float, country_header: str) -> str:
    for rule in link.rules:
        if _matches(rule, visit, now=now, country_header=country_header):
            if rule.url is not None:
                return rule.url
            total = sum(arm.weight for arm in rule.split)
            point = bucket(visit.client, visit.headers.get("user-agent", ""), total)
            for arm in rule.split:
                if point < arm.weight:
                    return arm.url
                point -= arm.weight
    return link.url


def _matches(rule: Rule, visit: Visit, *, now: float, country_header: str) -> bool:
    headers = visit.headers
    if rule.devices and device(headers.get("user-agent", "")) not in rule.devices:
        return False
    if rule.languages and not language_matches(
        rule.languages, preferred_languages(headers.get("accept-language", ""))
    ):
        return False
    if rule.countries and (
        not country_header or headers.get(country_header, "").upper() not in rule.countries
    ):
        return False
    if rule.header is not None and headers.get(rule.header[0]) not in rule.header[1]:
        return False
    if rule.query is not None:
        values = parse_qs(visit.query, keep_blank_values=True).get(rule.query[0], [])
        if not set(values) & rule.query[1]:
            return False
    if rule.after is not None and now < rule.after:
        return False
    return not (rule.before is not None and now >= rule.before)


def visit_of(scope: Scope) -> Visit:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }
    client = scope.get("client") or ("", 0)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return Visit(
        host=host_name(headers.get("host", "")),
        path=raw_path.decode("latin-1"),
        query=scope["query_string"].decode("latin-1"),
        headers=headers,
        client=client[0],
    )


def host_name(host_header: str) -> str:
    """The Host header without its port, lowercase ("[::1]:8080" → "[::1]")."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rsplit(":", 1)[0]
