"""Everything the redirector answers that is not a redirect.

Probes, `robots.txt` (disallow all) and `favicon.ico` (204), the inspect page of a link
(`/<slug>+`, HTML or JSON) and its QR codes (`/<slug>+qr.svg`, `/<slug>+qr.png`), 404 for an
unknown slug (a small HTML page suggesting close slugs for browsers, JSON without suggestions for
API clients that ask for it, plain text for the rest: see `notfound`), 410 for an expired link,
and 405 for other methods on a link. These go through Starlette; redirects and the plain 404 of
a GET or HEAD take the lean path in `app`.
"""

import html
import io
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import segno
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from shortlink_core.link import Link, Rule
from shortlink_redirector.notfound import NOT_FOUND, PlainAnswer, admit, limited
from shortlink_redirector.public import short_url as public_short_url
from shortlink_redirector.resolve import Gone, Inspect, NotFound, resolve, visit_of
from shortlink_redirector.state import RedirectorState, ServingConfig

NO_STORE: Final = {"cache-control": "no-store", "x-robots-tag": "noindex"}
ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Paths answered here before any table lookup (no link can claim them: see
#: `shortlink_core.matching.RESERVED_SLUGS`).
OWN_PATHS: Final = frozenset({"/healthz", "/livez", "/readyz", "/robots.txt", "/favicon.ico"})
ROBOTS_TXT: Final = "User-agent: *\nDisallow: /\n"
STATIC: Final = {"cache-control": "public, max-age=86400"}
_STYLE: Final = (
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;"
    "padding:0 1em}code{background:#eee;padding:0 .2em}dt{font-weight:bold}</style>"
)


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
        # A redirect is answered by the app before Starlette is reached.
        raise AssertionError(f"unexpected decision {decision!r}")

    return Starlette(
        routes=[
            Route("/healthz", live, methods=["GET", "HEAD"]),
            Route("/livez", live, methods=["GET", "HEAD"]),
            Route("/readyz", ready, methods=["GET", "HEAD"]),
            Route("/robots.txt", robots, methods=["GET", "HEAD"]),
            Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
            Route("/{path:path}", other, methods=ALL_METHODS),
        ]
    )


async def robots(request: Request) -> Response:
    """Short links are not content: crawlers are asked to stay away from all of them."""
    return PlainTextResponse(ROBOTS_TXT, headers=STATIC)


async def favicon(request: Request) -> Response:
    """No icon, said cheaply and cacheably, so browsers stop asking and no 404 is counted."""
    return Response(status_code=204, headers=STATIC)


def not_found(request: Request, state: RedirectorState, slug: str, *, host: str) -> Response:
    """The answer for an unknown slug, counted (see `notfound`): 429 past the budget of the
    client's network, else 404 as JSON, as a page with suggestions for browsers, or plain text."""
    peer = request.client.host if request.client else None
    wait = admit(state, peer, request.headers.get("x-forwarded-for", "").encode("latin-1"))
    if wait:
        return _plain(limited(wait))
    if _wants(request, "application/json"):
        payload = {"error": "not found", "slug": slug}
        return JSONResponse(payload, status_code=404, headers=NO_STORE)
    if not _wants(request, "text/html"):
        return _plain(NOT_FOUND)
    hints = "".join(
        f'<li><a href="/{html.escape(s)}">/{html.escape(s)}</a></li>'
        for s in state.table.suggestions(host, slug)
    )
    body = f"<p>There is no short link <code>/{html.escape(slug)}</code> here.</p>" + (
        f"<p>Did you mean:</p><ul>{hints}</ul>"
        if hints
        else "<p>Check the spelling, or ask whoever gave it to you.</p>"
    )
    return _page("Short link not found", body, 404)


def gone(request: Request, decision: Gone) -> Response:
    when = _iso(decision.served.route.link.expires_at)
    if not _wants(request, "text/html"):
        return PlainTextResponse(
            f"short link expired at {when}\n", status_code=410, headers=NO_STORE
        )
    slug = html.escape(decision.served.route.slug)
    return _page(
        "Short link expired", f"<p>The short link <code>/{slug}</code> expired at {when}.</p>", 410
    )


def inspect(request: Request, decision: Inspect, *, serving: ServingConfig) -> Response:
    route = decision.served.route
    short_url = public_short_url(
        request.scope,
        slug=route.slug,
        link_host=route.link.host,
        base_url=serving.public_base_url,
        trusted_proxies=serving.trusted_proxies,
    )
    if decision.view != "page":
        return qr_code(short_url, decision.view)
    facts = {
        "slug": route.slug,
        "shortURL": short_url,
        "namespace": route.namespace,
        "name": route.name,
        **describe(route.link),
    }
    if _wants(request, "application/json"):
        return JSONResponse(facts, headers=NO_STORE)
    rows = "".join(
        f"<dt>{html.escape(key)}</dt><dd>{_html_value(value)}</dd>"
        for key, value in facts.items()
        if value not in (None, [], "")
    )
    image = f"/{html.escape(route.slug)}+qr.svg"
    qr = f'<p><img alt="QR code" width="160" height="160" src="{image}"></p>'
    return _page(f"/{route.slug}", f"<dl>{rows}</dl>{qr}", 200)


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
        "host": link.host or None,
        "activeFrom": _iso(link.active_from),
        "expiresAt": _iso(link.expires_at),
        "expiredURL": link.expired_url,
        "rules": [describe_rule(rule) for rule in link.rules],
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


def _page(title: str, body: str, status: int) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>{_STYLE}'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
    return HTMLResponse(document, status_code=status, headers=NO_STORE)


def _plain(answer: PlainAnswer) -> Response:
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return Response(answer.body, status_code=answer.status, headers=headers)


def _wants(request: Request, media_type: str) -> bool:
    return media_type in request.headers.get("accept", "")


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _html_value(value: object) -> str:
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{html.escape(str(v))}</li>" for v in value) + "</ul>"
    text = html.escape(str(value))
    if text.startswith(("http://", "https://")):
        return f'<a href="{text}" rel="nofollow noopener">{text}</a>'
    return text
