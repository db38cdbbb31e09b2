"""The redirector's ASGI application.

A GET or HEAD for a slug in the table is answered right here from the route's prepared status and
headers: no routing, no middleware, no Request object. Everything else (probes, unknown slugs,
other methods) falls through to the Starlette app in `pages`. Probe paths cannot be shadowed by a
link, because the table never holds a reserved slug (see `shortlink_core.validation`).
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from shortlink_redirector.pages import build_pages
from shortlink_redirector.state import RedirectorState

_EMPTY_BODY = {"type": "http.response.body", "body": b""}


class Redirector:
    def __init__(self, state: RedirectorState, *, fallback: ASGIApp | None = None) -> None:
        self.state = state
        self.fallback = fallback if fallback is not None else build_pages(state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            served = self.state.table.routes.get(scope["path"][1:])
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
        await self.fallback(scope, receive, send)


def create_app(state: RedirectorState | None = None) -> Redirector:
    return Redirector(state if state is not None else RedirectorState())
