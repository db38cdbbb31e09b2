"""Not-found answers: cheap for clients that show no page, limited per client network.

A request for an unknown slug is answered in one of three ways:

- a client that asks for neither HTML nor JSON (curl, scripts, scanners) gets a prepared plain
  404: no suggestions, no Starlette. The server's protocol answers it straight from the parser
  when it can tell for sure that the request is a not-found (`quick_answer`), as it does for
  plain redirects; otherwise the app sends the same bytes;
- a browser (`Accept: text/html`) gets the small page of `pages`, with up to three close slugs
  from the table's suggestion index (`suggestions`) and, when the slug could be served, the
  command and manifest that would create it (`create_hint`); an API client asking for JSON gets
  a JSON body without suggestions;
- a client network past its not-found budget (`ratelimit`) gets 429 with `Retry-After` instead,
  whatever it asked for, and costs no lookup at all.

Every not-found answer is counted (`shortlink_not_found_total`), and every 429 in its place
(`shortlink_not_found_limited_total`); the path is never recorded.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from shortlink_core.api import GROUP, KIND, VERSION
from shortlink_core.errors import InvalidLink
from shortlink_core.matching import RESERVED_KEYS, match_key
from shortlink_core.validation import validate_slug
from shortlink_redirector.addresses import client_network
from shortlink_redirector.resolve import host_name
from shortlink_redirector.state import RedirectorState

Headers = list[tuple[bytes, bytes]]

NOT_FOUND_BODY: Final = b"short link not found\n"
LIMITED_BODY: Final = b"too many requests for unknown short links; retry later\n"


@dataclass(frozen=True, slots=True)
class PlainAnswer:
    """A prepared answer: ASGI headers for the app, the same headers as wire bytes for the
    protocol (ending with the blank line), and the body."""

    status: int
    headers: Headers
    block: bytes
    body: bytes


def _prepare(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> PlainAnswer:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-robots-tag", b"noindex"),
        *extra,
    ]
    block = b"".join(b"%s: %s\r\n" % header for header in headers) + b"\r\n"
    return PlainAnswer(status, headers, block, body)


NOT_FOUND: Final = _prepare(404, NOT_FOUND_BODY)


@lru_cache(maxsize=64)  # Retry-After takes few values: at most the seconds one token takes
def limited(retry_after: int) -> PlainAnswer:
    return _prepare(429, LIMITED_BODY, (b"retry-after", str(retry_after).encode()))


def wants_page(accept: str) -> bool:
    """True for a client that shows a not-found page: a browser (HTML) or an API client (JSON)."""
    return "text/html" in accept or "application/json" in accept


def admit(state: RedirectorState, peer: str | None, forwarded_for: bytes) -> int:
    """Count one not-found answer to this client: 0 if it may have it, else the seconds to put
    in the `Retry-After` of the 429 it gets instead (counted as limited)."""
    network = client_network(peer, forwarded_for, state.serving.trusted_proxies)
    wait = state.not_found_limiter.take(network)
    if wait:
        state.metrics.not_found_limited.inc()
    else:
        state.metrics.not_found.inc()
    return wait


def plain_answer(state: RedirectorState, peer: str | None, forwarded_for: bytes) -> PlainAnswer:
    """The answer to a client that shows no page: 404, or 429 past its network's budget."""
    wait = admit(state, peer, forwarded_for)
    return limited(wait) if wait else NOT_FOUND


def is_own_path(path: str, own_paths: frozenset[str]) -> bool:
    """True for a path the pages answer themselves (a probe, robots.txt, …), in any spelling."""
    return path in own_paths or match_key(path.lstrip("/")) in RESERVED_KEYS


def quick_answer(
    state: RedirectorState,
    own_paths: frozenset[str],
    url: bytes,
    headers: Headers,
    client: tuple[str, int] | None,
) -> PlainAnswer | None:
    """The answer to a GET or HEAD of `url` when it is certainly a not-found for a client that
    shows no page; None whenever the app must decide (the protocol then hands it over).

    Only the simplest requests qualify: a ready table, one path segment without percent-encoding
    or `+` (an inspect page), one Host header, and no slug of that spelling on that host. The
    answer is then exactly the one `resolve` and the app would give.
    """
    if not state.ready:
        return None
    raw_path = url.partition(b"?")[0]
    if (
        not raw_path.startswith(b"/")
        or b"/" in raw_path[1:]
        or b"%" in raw_path
        or b"+" in raw_path
    ):
        return None
    path = raw_path.decode("latin-1")
    if path == "/" or is_own_path(path, own_paths):
        return None
    host, hosts, forwarded = b"", 0, b""
    for name, value in headers:
        if name == b"host":
            host, hosts = value, hosts + 1
        elif name == b"accept" and wants_page(value.decode("latin-1")):
            return None
        elif name == b"x-forwarded-for":
            forwarded = value
    if hosts != 1 or state.table.lookup(host_name(host.decode("latin-1")), path[1:]) is not None:
        return None
    return plain_answer(state, client[0] if client else None, forwarded)


#: A Kubernetes object name (DNS subdomain): what `kubectl shortlink create NAME` needs.
_OBJECT_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
#: The placeholder target in the offered command and manifest.
PLACEHOLDER_URL: Final = "https://example.com/replace-me"


@dataclass(frozen=True, slots=True)
class CreateHint:
    """How to create the link that was asked for: a plugin command and a manifest."""

    command: str
    manifest: str


def create_hint(slug: str) -> CreateHint | None:
    """The `kubectl shortlink create` command and a ShortLink manifest serving `slug`, or None
    when no link can be served there (not a valid slug, or reserved). Only a validated slug is
    ever put into them, lowercase as slugs are."""
    wanted = slug.lower()
    try:
        validate_slug(wanted)
    except InvalidLink:
        return None
    # Object names may not hold "_", which slugs may: then the name differs and says the slug.
    name = wanted.replace("_", "-")
    if not _OBJECT_NAME.fullmatch(name):
        return None
    explicit = name != wanted
    command = f"kubectl shortlink create {name} --url {PLACEHOLDER_URL}"
    spec = f"  url: {PLACEHOLDER_URL}\n"
    if explicit:
        command += f" --slug {wanted}"
        spec = f"  slug: {wanted}\n" + spec
    manifest = (
        f"apiVersion: {GROUP}/{VERSION}\nkind: {KIND}\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
    return CreateHint(command=command, manifest=manifest)
