"""The redirector's ASGI application.

A GET or HEAD whose path is a uniform link's exact slug, without a query string, is answered right
here from the route's prepared status and headers: no routing, no middleware, no Request object.
Other redirects (rules, times, templates, suffixes, forwarded queries, other spellings) are decided
by `resolve` and also answered here. Everything else — probes, inspect pages, QR codes, not found,
gone, other methods — goes to the Starlette app in `pages`. Probe paths cannot be shadowed by a
link, because the table never holds a reserved slug (see `shortlink_core.validation`).
"""

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from shortlink_redirector.pages import build_pages
from shortlink_redirector.resolve import Redirect, resolve, visit_of
from shortlink_redirector.state import RedirectorState

_EMPTY_BODY = {"type": "http.response.body", "body": b""}


class Redirector:
    def __init__(self, state: RedirectorState, *, fallback: ASGIApp | None = None) -> None:
        self.state = state
        self.fallback = fallback if fallback is not None else build_pages(state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            table = self.state.table
            served = None if scope["query_string"] else table.fast.get(scope["path"])
            if served is not None:
                served.counter.value += 1
                await send(
                    {
                        "type": "http.response.start",
                        "status": served.status,
                        "headers": served.headers,
                    }
                )
                await send(_EMPTY_BODY)
                return
            decision = resolve(
                table,
                visit_of(scope),
                now=time.time(),
                max_age=self.state.serving.permanent_max_age,
                country_header=self.state.serving.country_header,
            )
            if isinstance(decision, Redirect):
                decision.served.counter.value += 1
                await send(
                    {
                        "type": "http.response.start",
                        "status": decision.status,
                        "headers": decision.headers,
                    }
                )
                await send(_EMPTY_BODY)
                return
        await self.fallback(scope, receive, send)


def create_app(state: RedirectorState | None = None) -> Redirector:
    return Redirector(state if state is not None else RedirectorState())
