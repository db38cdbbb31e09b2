"""The redirector's ASGI application.

Most plain redirects (a GET or HEAD of a uniform link's exact slug, without a query string) never
get here: the server's protocol answers them (see `protocol`). The few that do, such as one on a
connection that closes after it, are answered right here from the route's prepared status and
headers: no routing, no middleware, no Request object. Other redirects (rules, times, templates,
suffixes, forwarded queries, other spellings) are decided by `resolve` and also answered here.
Counting a redirect is a handful of integer increments (the link, its visitor and referrer class,
a latency bucket) and, when the visit log is on, one list append. Everything else — probes,
the front page `/`, inspect pages, QR codes, gone and suspended links, other methods — goes to
the Starlette app in `pages`. A GET or
HEAD of an unknown slug is answered here too, by `notfound`'s rules: a prepared plain 404 (or 429
past the client network's budget) for clients that show no page, the pages' 404 for the others.

Answered here before any lookup: 400 to a request without exactly one valid Host (see
`framing`). Until the table is complete (`state.ready`), a slug not found answers 503 with
Retry-After instead of 404: the link may be in a shard not loaded yet, so "not found" would be a
lie; the links already loaded are served. A redirect whose Location
would exceed `--max-location-bytes` answers 414. The redirector's own paths cannot be shadowed
by a link: no spelling of them passes validation, and the table never serves a reserved slug
(see `shortlink_core.matching`).
"""

from collections.abc import Iterable
from time import perf_counter, time
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shortlink_redirector.classify import referrer_class, visitor_class
from shortlink_redirector.framing import host_problem
from shortlink_redirector.notfound import is_own_path, plain_answer, wants_page
from shortlink_redirector.pages import OWN_PATHS, build_pages, not_found
from shortlink_redirector.resolve import NotFound, Redirect, TooLong, Visit, resolve, visit_of
from shortlink_redirector.state import RedirectorState
from shortlink_redirector.table import ServedRoute

_EMPTY_BODY = {"type": "http.response.body", "body": b""}
NO_STORE_HEADERS: Final = ((b"cache-control", b"no-store"), (b"x-robots-tag", b"noindex"))
#: How long a client should wait while the table is not loaded yet (it loads in about a second).
RETRY_AFTER_SECONDS: Final = b"1"
NOT_READY: Final = "routing table not loaded yet"


class Redirector:
    def __init__(self, state: RedirectorState, *, fallback: ASGIApp | None = None) -> None:
        self.state = state
        self.fallback = fallback if fallback is not None else build_pages(state)
        #: Paths the pages answer themselves, never a not-found of ours.
        self.own_paths = OWN_PATHS
        traffic = self._traffic = state.metrics.traffic
        # Bound once: attribute lookups on every request add up.
        self._visitors = traffic.visitors
        self._referrers = traffic.referrers
        self._redirect_latency = traffic.redirect_latency
        self._other_latency = traffic.other_latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One try around everything rather than a nested call: a coroutine call per request
        # costs more than the try, which is free until something raises.
        try:
            started = perf_counter()
            if scope["type"] != "http":
                await self.fallback(scope, receive, send)
                return
            # ASGI: a scope without http_version is HTTP/1.1.
            problem = host_problem(scope.get("http_version", "1.1"), scope["headers"])
            if problem is not None:
                await _answer(send, 400, problem, close=True)
                return
            state = self.state
            if scope["method"] in ("GET", "HEAD"):
                table, serving = state.table, state.serving
                served = None if scope["query_string"] else table.fast.get(scope["path"])
                if served is not None and len(served.location) <= serving.max_location_bytes:
                    status, headers = served.status, served.headers()
                else:
                    served = None
                    visit = visit_of(scope)
                    decision = resolve(
                        table,
                        visit,
                        now=time(),
                        max_age=serving.permanent_max_age,
                        country_header=serving.country_header,
                        max_location=serving.max_location_bytes,
                    )
                    if isinstance(decision, Redirect):
                        served, status, headers = decision.served, decision.status, decision.headers
                    elif isinstance(decision, TooLong):
                        await _answer(send, 414, "the redirect's Location would be too long")
                        self._other_latency.observe(perf_counter() - started)
                        return
                    elif isinstance(decision, NotFound) and not is_own_path(
                        scope["path"], self.own_paths
                    ):
                        if state.ready:
                            await self.not_found(scope, receive, send, visit, decision.slug)
                        else:  # not "not found": the link may be in a shard not loaded yet
                            await _answer(send, 503, NOT_READY, retry_after=True)
                        self._other_latency.observe(perf_counter() - started)
                        return
                if served is not None:
                    await send(
                        {"type": "http.response.start", "status": status, "headers": headers}
                    )
                    await send(_EMPTY_BODY)
                    self.count_redirect(
                        served,
                        status,
                        headers[0][1],
                        scope["headers"],
                        scope.get("client"),
                        started,
                    )
                    return
            await self.fallback(scope, receive, send)
            self._other_latency.observe(perf_counter() - started)
        except Exception:  # Starlette has answered 500 if it still could; count, then re-raise
            self._traffic.errors += 1
            raise

    async def not_found(
        self, scope: Scope, receive: Receive, send: Send, visit: Visit, slug: str
    ) -> None:
        """Answer a GET or HEAD of an unknown slug (see `notfound`)."""
        if wants_page(visit.headers.get("accept", "")):
            page = not_found(Request(scope), self.state, slug, host=visit.host)
            await page(scope, receive, send)
            return
        forwarded = visit.headers.get("x-forwarded-for", "").encode("latin-1")
        answer = plain_answer(self.state, visit.client or None, forwarded)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    def count_other(self, started: float) -> None:
        """Time a request that was not a redirect (the protocol's not-found answers)."""
        self._other_latency.observe(perf_counter() - started)

    def count_redirect(
        self,
        served: ServedRoute,
        status: int,
        location: bytes,
        request_headers: Iterable[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        started: float,
    ) -> None:
        """Count a redirect that was sent, and record it in the visit log when that is on."""
        served.counter.value += 1
        agent = referer = host = forwarded = b""
        for name, value in request_headers:
            if name == b"user-agent":
                agent = value
            elif name == b"referer":
                referer = value
            elif name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                forwarded = value
        visitor = visitor_class(agent)
        self._visitors[visitor] += 1
        referrer = referrer_class(referer, host)
        self._referrers[referrer] += 1
        visit_log = self.state.visit_log
        if visit_log is not None:
            peer = client[0] if client else None
            visit_log.record(
                (
                    time(),
                    host,
                    served.log_fields,
                    status,
                    location,
                    visitor,
                    referrer,
                    referer,
                    peer,
                    forwarded,
                )
            )
        self._redirect_latency.observe(perf_counter() - started)


async def _answer(
    send: Send, status: int, reason: str, *, close: bool = False, retry_after: bool = False
) -> None:
    """A short plain-text answer that is never cached (400, 414, 503)."""
    body = f"{reason}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *NO_STORE_HEADERS,
    ]
    if retry_after:
        headers.append((b"retry-after", RETRY_AFTER_SECONDS))
    if close:  # the request is not trusted to be framed right: do not read another one
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(state: RedirectorState | None = None) -> Redirector:
    return Redirector(state if state is not None else RedirectorState())
