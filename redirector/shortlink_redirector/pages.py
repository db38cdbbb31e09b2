"""Everything the redirector answers that is not a redirect.

Probes, `robots.txt` (disallow all) and `favicon.ico` (204); the front page `/` (what the service
is, a search over the links their owners listed and the most visited of them: see `listing`);
the inspect page of a link (`/<slug>+`, HTML or JSON) and its QR codes (`/<slug>+qr.svg`,
`/<slug>+qr.png`); 404 for an unknown slug (a page suggesting close slugs and offering the command
that would create the link for browsers, JSON without suggestions for API clients that ask for
it, plain text for the rest: see `notfound`); 410 for an expired link and 404 for a suspended one
(for browsers, a page with the link's description and whom to ask); 405 for other methods on a
link. HTML comes from the templates of `render`, escaped. These go through Starlette; redirects
and the plain 404 of a GET or HEAD take the lean path in `app`.
"""

import io
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final

import segno
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from shortlink_core.link import Link, Rule
from shortlink_redirector.addresses import client_network
from shortlink_redirector.listing import MAX_QUERY, PAGE_SIZE
from shortlink_redirector.notfound import NOT_FOUND, PlainAnswer, admit, create_hint, limited
from shortlink_redirector.public import short_url as public_short_url
from shortlink_redirector.render import page
from shortlink_redirector.resolve import (
    Gone,
    Inspect,
    NotFound,
    Suspended,
    host_name,
    resolve,
    visit_of,
)
from shortlink_redirector.state import RedirectorState, ServingConfig
from shortlink_redirector.table import ServedRoute

NO_STORE: Final = {"cache-control": "no-store", "x-robots-tag": "noindex"}
ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Paths answered here before any table lookup (no link can claim them: see
#: `shortlink_core.matching.RESERVED_SLUGS`).
OWN_PATHS: Final = frozenset({"/", "/healthz", "/livez", "/readyz", "/robots.txt", "/favicon.ico"})
ROBOTS_TXT: Final = "User-agent: *\nDisallow: /\n"
STATIC: Final = {"cache-control": "public, max-age=86400"}
ABOUT: Final = (
    "Short links: /<name> redirects to where the link points, /<name>+ shows where it goes. "
    "Links are ShortLink objects in Kubernetes; their owners choose whether they are listed."
)
VISITS_MEANING: Final = "redirects this server process answered since it started"
#: The inspect page's facts, in order, under the words a person reads.
READABLE_LABELS: Final = {
    "shortURL": "Short URL",
    "url": "Goes to",
    "owner": "Whom to ask",
    "redirectCode": "Redirect",
    "host": "Served",
    "activeFrom": "Active from",
    "expiresAt": "Expires",
    "expiredURL": "After it expires, goes to",
    "rules": "Rules (the first that matches wins)",
    "visits": "Visits",
    "changed": "Last change",
    "name": "Defined by",
    "listed": "Listed on the front page",
}
REDIRECT_KIND: Final = {301: "permanent", 302: "temporary", 307: "temporary", 308: "permanent"}


def build_pages(state: RedirectorState) -> Starlette:
    async def live(request: Request) -> Response:
        return PlainTextResponse("ok", headers=NO_STORE)

    async def ready(request: Request) -> Response:
        if state.ready:
            return PlainTextResponse("ok", headers=NO_STORE)
        return PlainTextResponse("routing table not loaded yet", status_code=503, headers=NO_STORE)

    async def other(request: Request) -> Response:
        visit = visit_of(request.scope)
        decision = resolve(
            state.table,
            visit,
            now=time.time(),
            max_age=state.serving.permanent_max_age,
            country_header=state.serving.country_header,
        )
        if isinstance(decision, NotFound):
            if not state.ready:  # the link may be in a shard not loaded yet (see `app`)
                headers = {**NO_STORE, "retry-after": "1"}
                return PlainTextResponse(
                    "routing table not loaded yet\n", status_code=503, headers=headers
                )
            return not_found(request, state, decision.slug, host=visit.host)
        if request.method not in ("GET", "HEAD"):
            headers = {**NO_STORE, "allow": "GET, HEAD"}
            return PlainTextResponse("method not allowed\n", status_code=405, headers=headers)
        if isinstance(decision, Inspect):
            return inspect(request, decision, serving=state.serving)
        if isinstance(decision, Gone):
            return gone(request, decision)
        if isinstance(decision, Suspended):
            return suspended(request, decision)
        # A redirect is answered by the app before Starlette is reached.
        raise AssertionError(f"unexpected decision {decision!r}")

    return Starlette(
        routes=[
            Route("/healthz", live, methods=["GET", "HEAD"]),
            Route("/livez", live, methods=["GET", "HEAD"]),
            Route("/readyz", ready, methods=["GET", "HEAD"]),
            Route("/robots.txt", robots, methods=["GET", "HEAD"]),
            Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
            Route("/", front(state), methods=["GET", "HEAD"]),
            Route("/{path:path}", other, methods=ALL_METHODS),
        ]
    )


async def robots(request: Request) -> Response:
    """Short links are not content: crawlers are asked to stay away from all of them."""
    return PlainTextResponse(ROBOTS_TXT, headers=STATIC)


async def favicon(request: Request) -> Response:
    """No icon, said cheaply and cacheably, so browsers stop asking and no 404 is counted."""
    return Response(status_code=204, headers=STATIC)


def front(state: RedirectorState) -> Callable[[Request], Awaitable[Response]]:
    """The front page `/`: what this service is, a search over the listed links, the most
    visited of them (see `listing`); JSON for clients that ask for it."""

    async def answer(request: Request) -> Response:
        if not state.ready:
            headers = {**NO_STORE, "retry-after": "1"}
            return PlainTextResponse(
                "routing table not loaded yet\n", status_code=503, headers=headers
            )
        query = request.query_params.get("q", "").strip()
        as_json = _wants(request, "application/json")
        if len(query) > MAX_QUERY:
            message = f"a search query may be at most {MAX_QUERY} characters"
            if as_json:
                return JSONResponse({"error": message}, status_code=400, headers=NO_STORE)
            return PlainTextResponse(message + "\n", status_code=400, headers=NO_STORE)
        if query:  # a search costs a scan: it spends the client network's not-found budget
            peer = request.client.host if request.client else None
            forwarded = request.headers.get("x-forwarded-for", "").encode("latin-1")
            network = client_network(peer, forwarded, state.serving.trusted_proxies)
            wait = state.not_found_limiter.take(network)
            if wait:
                return _plain(limited(wait))
        host = host_name(request.headers.get("host", ""))
        listing = state.table.listing
        visible = listing.visible(host)
        results = listing.search(host, query) if query else list(visible[:PAGE_SIZE])
        top = listing.most_visited(host)
        if as_json:
            payload = {
                "service": "shortlink",
                "about": ABOUT,
                "listed": len(visible),
                "query": query or None,
                "results": [entry.as_json() for entry in results],
                "mostVisited": [entry.as_json() for entry in top],
                "visits": VISITS_MEANING,
            }
            return JSONResponse(payload, headers=NO_STORE)
        return page(
            "front.html",
            200,
            title="Short links",
            query=query,
            max_query=MAX_QUERY,
            total=len(visible),
            results=results,
            most_visited=top,
        )

    return answer


def not_found(request: Request, state: RedirectorState, slug: str, *, host: str) -> Response:
    """The answer for an unknown slug, counted (see `notfound`): 429 past the budget of the
    client's network, else 404 as JSON, as a page with suggestions and the command that would
    create the link for browsers, or plain text."""
    peer = request.client.host if request.client else None
    wait = admit(state, peer, request.headers.get("x-forwarded-for", "").encode("latin-1"))
    if wait:
        return _plain(limited(wait))
    if _wants(request, "application/json"):
        payload = {"error": "not found", "slug": slug}
        return JSONResponse(payload, status_code=404, headers=NO_STORE)
    if not _wants(request, "text/html"):
        return _plain(NOT_FOUND)
    return page(
        "not_found.html",
        404,
        title="Short link not found",
        slug=slug,
        suggestions=state.table.suggestions(host, slug),
        create=create_hint(slug),
    )


def gone(request: Request, decision: Gone) -> Response:
    link = decision.served.route.link
    when = _iso(link.expires_at)
    if not _wants(request, "text/html"):
        return PlainTextResponse(
            f"short link expired at {when}\n", status_code=410, headers=NO_STORE
        )
    return _unavailable(
        decision.served,
        410,
        title="Short link expired",
        reason=f"The short link /{decision.served.route.slug} expired at {when}.",
    )


def suspended(request: Request, decision: Suspended) -> Response:
    slug = decision.served.route.slug
    if _wants(request, "application/json"):
        payload = {"error": "suspended", "slug": slug}
        return JSONResponse(payload, status_code=404, headers=NO_STORE)
    if not _wants(request, "text/html"):
        return PlainTextResponse("short link suspended\n", status_code=404, headers=NO_STORE)
    return _unavailable(
        decision.served,
        404,
        title="Short link suspended",
        reason=f"The short link /{slug} is suspended: its owner has stopped it for now.",
    )


def _unavailable(served: ServedRoute, status: int, *, title: str, reason: str) -> Response:
    """The page of a link that exists but is not followed: what it was for and whom to ask."""
    link = served.route.link
    return page(
        "unavailable.html",
        status,
        title=title,
        reason=reason,
        description=link.description,
        owner=link.owner,
    )


def inspect(request: Request, decision: Inspect, *, serving: ServingConfig) -> Response:
    served = decision.served
    route = served.route
    short_url = public_short_url(
        request.scope,
        slug=route.slug,
        link_host=route.link.host,
        base_url=serving.public_base_url,
        trusted_proxies=serving.trusted_proxies,
    )
    if decision.view != "page":
        return qr_code(short_url, decision.view)
    now = time.time()
    facts = {
        "slug": route.slug,
        "shortURL": short_url,
        "namespace": route.namespace,
        "name": route.name,
        **describe(route.link),
        "state": state_of(route.link, now=now),
        "visits": visits_of(served),
        "changed": _iso(route.changed) if route.changed else None,
    }
    if _wants(request, "application/json"):
        return JSONResponse(facts, headers=NO_STORE)
    return page(
        "inspect.html",
        200,
        title=f"/{route.slug}",
        slug=route.slug,
        short_url=short_url,
        state=facts["state"],
        description=route.link.description,
        facts=readable(facts),
    )


def state_of(link: Link, *, now: float) -> str:
    """Whether the link is followed now, in a word: Active, Suspended, Scheduled or Expired."""
    if link.suspended:
        return "Suspended"
    if link.active_from is not None and now < link.active_from:
        return "Scheduled"
    if link.expires_at is not None and now >= link.expires_at:
        return "Expired"
    return "Active"


def visits_of(served: ServedRoute) -> int | None:
    """Redirects this process answered for the link; None when it has no counter of its own."""
    return None if served.counter.shared else served.counter.value


def readable(facts: Mapping[str, Any]) -> list[tuple[str, str | list[str]]]:
    """The inspect page's facts under labels a person reads, empty ones left out."""
    shown: list[tuple[str, str | list[str]]] = []
    for key, label in READABLE_LABELS.items():
        value = facts.get(key)
        if value in (None, [], ""):
            continue
        if key == "redirectCode":
            value = f"{value} {HTTPStatus(value).phrase} ({REDIRECT_KIND[value]})"
        elif key == "host":
            value = f"only on {value}"
        elif key == "visits":
            value = f"{value} (answered by this server since it started)"
        elif key == "listed":
            value = "yes" if value else "no"
        elif key == "name":
            value = f"ShortLink {facts['namespace']}/{value}"
        shown.append((label, value if isinstance(value, list) else str(value)))
    return shown


def qr_code(url: str, view: str) -> Response:
    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    kind, media_type = ("svg", "image/svg+xml") if view == "qr.svg" else ("png", "image/png")
    code.save(buffer, kind=kind, scale=4 if kind == "svg" else 8, border=2)
    return Response(
        buffer.getvalue(), media_type=media_type, headers={"cache-control": "public, max-age=86400"}
    )


def describe(link: Link) -> dict[str, Any]:
    """What the inspect page shows of a link: where it goes and under which conditions."""
    return {
        "url": link.url,
        "redirectCode": link.redirect_code,
        "description": link.description,
        "owner": link.owner or None,
        "host": link.host or None,
        "activeFrom": _iso(link.active_from),
        "expiresAt": _iso(link.expires_at),
        "expiredURL": link.expired_url,
        "rules": [describe_rule(rule) for rule in link.rules],
        "listed": bool(link.listed),
    }


def describe_rule(rule: Rule) -> str:
    """One rule in words, e.g. "device is Mobile and language is de → https://…"."""

    def either(values: Iterable[str]) -> str:
        return " or ".join(sorted(values))

    conditions = []
    if rule.devices:
        conditions.append(f"device is {either(rule.devices)}")
    if rule.languages:
        conditions.append(f"language is {either(rule.languages)}")
    if rule.countries:
        conditions.append(f"country is {either(rule.countries)}")
    for what, pair in (("header", rule.header), ("query", rule.query)):
        if pair is not None:
            conditions.append(f"{what} {pair[0]} is {either(pair[1])}")
    if rule.after is not None:
        conditions.append(f"after {_iso(rule.after)}")
    if rule.before is not None:
        conditions.append(f"before {_iso(rule.before)}")
    target = rule.url or ", ".join(f"{arm.url} (weight {arm.weight})" for arm in rule.split)
    return f"{' and '.join(conditions) or 'always'} → {target}"


def _plain(answer: PlainAnswer) -> Response:
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return Response(answer.body, status_code=answer.status, headers=headers)


def _wants(request: Request, media_type: str) -> bool:
    return media_type in request.headers.get("accept", "")


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
