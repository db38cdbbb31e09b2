"""Everything the redirector answers that is not a redirect: probes and the not-found pages.

These go through Starlette; only redirects take the lean path in `app`.
"""

import html
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from shortlink_redirector.state import RedirectorState

NOT_FOUND_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Short link not found</title></head>
<body><h1>Short link not found</h1>
<p>There is no short link <code>/{slug}</code> here. Check the spelling, or ask whoever gave it to
you.</p></body></html>
"""
NO_STORE: Final = {"cache-control": "no-store", "x-robots-tag": "noindex"}


def build_pages(state: RedirectorState) -> Starlette:
    async def live(request: Request) -> Response:
        return PlainTextResponse("ok", headers=NO_STORE)

    async def ready(request: Request) -> Response:
        if state.ready:
            return PlainTextResponse("ok", headers=NO_STORE)
        return PlainTextResponse("routing table not loaded yet", status_code=503, headers=NO_STORE)

    async def other(request: Request) -> Response:
        slug = request.path_params["path"]
        if slug in state.table.routes:
            return PlainTextResponse(
                "method not allowed\n", status_code=405, headers={**NO_STORE, "allow": "GET, HEAD"}
            )
        state.metrics.not_found.inc()
        if "text/html" in request.headers.get("accept", ""):
            page = NOT_FOUND_PAGE.format(slug=html.escape(slug))
            return HTMLResponse(page, status_code=404, headers=NO_STORE)
        return PlainTextResponse("short link not found\n", status_code=404, headers=NO_STORE)

    return Starlette(
        routes=[
            Route("/healthz", live, methods=["GET", "HEAD"]),
            Route("/livez", live, methods=["GET", "HEAD"]),
            Route("/readyz", ready, methods=["GET", "HEAD"]),
            Route(
                "/{path:path}",
                other,
                methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            ),
        ]
    )
