"""The routing table as the redirector serves it: immutable, with responses prepared at load time.

A `RoutingTable` maps routing keys (host and match key) to `ServedRoute`s. Links that answer the
same way for everyone (no rules, no time window, no template) are also filed in `fast` under their
exact path with a prepared status and the wire bytes of every header after the Location (one
object shared by all links that answer alike), so the common redirect is one dict lookup and one
write of the link's URL between prepared bytes (see `protocol`). Tables are never changed in
place: a change builds a new table from the old one, and the app swaps it in with one assignment,
so a request sees the old table or the new, never a mix. A table also knows which of its links
the front page lists (`listing`, built the first time it is asked for).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from json.encoder import encode_basestring_ascii as _json
from typing import Final

from shortlink_core.matching import RESERVED_KEYS, match_key
from shortlink_core.table import Route
from shortlink_redirector.listing import Listing
from shortlink_redirector.metrics import LinkCounter, LinkCounters
from shortlink_redirector.suggestions import EMPTY_INDEX, SlugIndex

Headers = list[tuple[bytes, bytes]]
#: A shard's routes and the bytes of its ConfigMap data.
ShardContent = tuple[Iterable[Route], int]

#: Permanent redirects may be cached by browsers; temporary ones must come back, to be counted.
PERMANENT_CODES: Final = frozenset({301, 308})
COMMON_HEADERS: Final = (
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-robots-tag", b"noindex"),
)


@dataclass(frozen=True, slots=True)
class ServedRoute:
    route: Route
    counter: LinkCounter
    #: True when every visitor gets the same answer (no rules, times or template) and that answer
    #: is a redirect (the link is not suspended).
    uniform: bool
    #: The prepared answer for a plain request (no path suffix, no query string): its status,
    #: and the headers after the Location (the link's URL) as they go on the wire, ending with
    #: the blank line (see `protocol`). The tail is the same for every link with the same
    #: status and caching, so links share one: a header block of its own took 230 bytes a link,
    #: and the Location's bytes kept beside the URL another 94.
    status: int
    tail: bytes
    #: The link's part of a visit-log line, as JSON. A string, so that the visit log's pending
    #: records hold nothing the garbage collector must scan (see `visitlog`).
    log_fields: str

    @property
    def location(self) -> bytes:
        """The Location of a plain request's answer: ASCII, as the operator normalised it."""
        return self.route.link.url.encode("ascii")

    @property
    def header_block(self) -> bytes:
        """Every prepared header as it goes on the wire, ending with the blank line."""
        return b"location: " + self.location + self.tail

    def headers(self) -> Headers:
        """The prepared headers as ASGI pairs, for the few plain requests the app answers."""
        return [(b"location", self.location), *_tail_headers(self.tail)]


def redirect_headers(location: str, *, code: int, cacheable: bool, max_age: int) -> Headers:
    cache = (
        f"public, max-age={max_age}"
        if cacheable and code in PERMANENT_CODES
        else "private, no-store"
    )
    return [
        # First, always: the visit log reads the Location as headers[0]. ASCII: the operator
        # normalised every URL.
        (b"location", location.encode("ascii")),
        (b"content-length", b"0"),
        (b"cache-control", cache.encode()),
        *COMMON_HEADERS,
    ]


@cache  # a handful of distinct tails, each one object shared by every link answering alike
def _tail(code: int, cacheable: bool, max_age: int) -> bytes:
    """The wire headers after the Location, from the end of its line to the blank line."""
    headers = redirect_headers("", code=code, cacheable=cacheable, max_age=max_age)[1:]
    return b"\r\n" + b"".join(b"%s: %s\r\n" % header for header in headers) + b"\r\n"


@cache
def _tail_headers(tail: bytes) -> Headers:
    """The headers of a tail (see `_tail`) as ASGI pairs."""
    pairs = (line.partition(b": ") for line in tail[2:-4].split(b"\r\n"))
    return [(name, value) for name, _, value in pairs]


def prepare(route: Route, counter: LinkCounter, *, max_age: int) -> ServedRoute:
    link = route.link
    uniform = not (
        link.rules or link.active_from or link.expires_at or link.suspended or "{" in link.url
    )
    tail = _tail(link.redirect_code, uniform, max_age)
    log_fields = (
        f'"slug":{_json(route.slug)},"namespace":{_json(route.namespace)},'
        f'"name":{_json(route.name)}'
    )
    return ServedRoute(route, counter, uniform, link.redirect_code, tail, log_fields)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Every served route by routing key, the fast index, and which keys each shard holds."""

    routes: dict[str, ServedRoute] = field(default_factory=dict)
    #: Bytes of each shard's ConfigMap data as it was loaded.
    sizes: dict[str, int] = field(default_factory=dict)
    #: "/<slug>" → route, for uniform links that no host-specific link shadows.
    fast: dict[str, ServedRoute] = field(default_factory=dict)
    shards: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Match key → how many hosts have a link of their own under it (those shadow the
    #: host-less link in `fast`).
    hosted: dict[str, int] = field(default_factory=dict)
    #: Every routing key, sorted for not-found suggestions (see `suggestions`).
    index: SlugIndex = EMPTY_INDEX
    #: The links the front page lists, built on first use (see `listing`): empty, or one.
    listings: list[Listing] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.routes)

    @property
    def listing(self) -> Listing:
        """The links the front page lists: built the first time it is asked for."""
        if not self.listings:
            self.listings.append(Listing.build(self.routes.values()))
        return self.listings[0]

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())

    def served_in(self, shard: str) -> dict[str, Route]:
        """The routes shard `shard` contributes, by routing key (a key that another shard also
        held, which only a forged shard can do, may be served by neither)."""
        routes = self.routes
        return {key: routes[key].route for key in self.shards.get(shard, ()) if key in routes}

    def with_shards(
        self,
        changes: Mapping[str, ShardContent],
        counters: LinkCounters,
        *,
        max_age: int,
    ) -> "RoutingTable":
        """A new table where each named shard holds exactly the given routes (none removes it).

        The work is in proportion to the changed shards, not to the table: a route equal to the
        one served keeps its prepared answer, and the fast index, the hosts and the suggestion
        index are updated for the routing keys whose route changed (a one-link change at 100,000
        links rebuilt all of them in about 100 ms). `tests/unit/test_table_updates.py` holds the
        result to a table built from scratch (`build`).
        """
        merged = dict(self.routes)
        shards, sizes = dict(self.shards), dict(self.sizes)
        touched: set[str] = set()
        for name, (routes, size) in changes.items():
            for key in shards.pop(name, ()):
                merged.pop(key, None)
                touched.add(key)
            sizes.pop(name, None)
            keys = []
            for route in routes:
                if match_key(route.slug) in RESERVED_KEYS:
                    # The redirector's own paths are never served from a shard, whatever it
                    # holds (only a forged or hand-edited one can hold a reserved slug).
                    continue
                key = route.key
                served = self.routes.get(key)
                if served is None or served.route != route:
                    code = route.link.redirect_code
                    counter = counters.for_link(route.namespace, route.name, code)
                    served = prepare(route, counter, max_age=max_age)
                merged[key] = served
                keys.append(key)
                touched.add(key)
            if keys:
                shards[name], sizes[name] = frozenset(keys), size
        changed = {key for key in touched if merged.get(key) is not self.routes.get(key)}
        return self._updated(merged, shards, sizes, changed)

    def _updated(
        self,
        routes: dict[str, ServedRoute],
        shards: dict[str, frozenset[str]],
        sizes: dict[str, int],
        changed: set[str],
    ) -> "RoutingTable":
        """This table's indexes, brought in step with `routes`, where only `changed` keys differ."""
        old = self.routes
        hosted, flipped = self.hosted, set()
        if any(not key.startswith("/") for key in changed):
            hosted = dict(hosted)
            for key in changed:
                if not key.startswith("/"):
                    match = key.split("/", 1)[1]
                    hosts = hosted.get(match, 0)
                    count = hosts - (key in old) + (key in routes)
                    if count:
                        hosted[match] = count
                    else:
                        hosted.pop(match, None)
                    if bool(hosts) != bool(count):
                        flipped.add(match)
        plain = {key for key in changed if key.startswith("/")} | {f"/{m}" for m in flipped}
        fast = self.fast
        if plain:
            fast = dict(fast)
            for key in plain:
                before = old.get(key)
                if before is not None and fast.get(f"/{before.route.slug}") is before:
                    del fast[f"/{before.route.slug}"]
                served = routes.get(key)
                if served is not None and served.uniform and key[1:] not in hosted:
                    fast[f"/{served.route.slug}"] = served
        added = [key for key in changed if key in routes and key not in old]
        removed = [key for key in changed if key not in routes]
        index = self.index.updated(removed, added, routes) if added or removed else self.index
        return RoutingTable(
            routes=routes, sizes=sizes, fast=fast, shards=shards, hosted=hosted, index=index
        )

    @staticmethod
    def build(
        routes: dict[str, ServedRoute], shards: dict[str, frozenset[str]], sizes: dict[str, int]
    ) -> "RoutingTable":
        """A table and its indexes from scratch (what `with_shards` must always equal)."""
        hosted: dict[str, int] = {}
        for key in routes:
            if not key.startswith("/"):
                match = key.split("/", 1)[1]
                hosted[match] = hosted.get(match, 0) + 1
        fast = {
            f"/{served.route.slug}": served
            for key, served in routes.items()
            if key.startswith("/") and served.uniform and key[1:] not in hosted
        }
        return RoutingTable(
            routes=routes,
            sizes=sizes,
            fast=fast,
            shards=shards,
            hosted=hosted,
            index=SlugIndex.build(routes),
        )

    def lookup(self, host: str, slug: str) -> ServedRoute | None:
        """The route for `slug` on `host`: the host's own link first, then a host-less one."""
        key = match_key(slug)
        served = (self.routes.get(f"{host}/{key}") if host else None) or self.routes.get(f"/{key}")
        if served is None or (served.route.link.match == "Exact" and served.route.slug != slug):
            return None
        return served

    def suggestions(self, host: str, slug: str) -> list[str]:
        """Up to three slugs close to `slug` that a visitor of `host` can reach, best first."""
        return [self.routes[key].route.slug for key in self.index.close_keys(host, slug)]


EMPTY_TABLE: Final = RoutingTable()
