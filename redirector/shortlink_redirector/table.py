"""The routing table as the redirector serves it: immutable, with every response prepared.

A `RoutingTable` maps a slug to a `ServedRoute` whose status and headers were built once, when the
table was loaded, so serving a redirect is a dict lookup and two `send` calls. Tables are never
changed in place: a change builds a new table from the old one, and the app swaps it in with one
assignment, so a request sees either the old table or the new one, never a mix.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from shortlink_core.table import Route
from shortlink_redirector.metrics import LinkCounter, LinkCounters

Headers = list[tuple[bytes, bytes]]

#: Permanent redirects may be cached by browsers; temporary ones must come back, to be counted.
PERMANENT_CODES: Final = frozenset({301, 308})


@dataclass(frozen=True, slots=True)
class ServedRoute:
    route: Route
    status: int
    headers: Headers
    counter: LinkCounter


def prepare(route: Route, counter: LinkCounter) -> ServedRoute:
    cache = b"public, max-age=3600" if route.code in PERMANENT_CODES else b"private, no-store"
    headers: Headers = [
        (b"location", route.url.encode("ascii")),  # normalised to ASCII by the operator
        (b"content-length", b"0"),
        (b"cache-control", cache),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-robots-tag", b"noindex"),
    ]
    return ServedRoute(route=route, status=route.code, headers=headers, counter=counter)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Slug → prepared route, which slugs each shard contributed, and each shard's size."""

    # Plain dicts, never changed after construction: a dict lookup is the cheapest there is.
    routes: dict[str, ServedRoute]
    shards: dict[str, frozenset[str]]
    #: Bytes of each shard's ConfigMap data as it was loaded.
    sizes: dict[str, int]

    def __len__(self) -> int:
        return len(self.routes)

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())

    def with_shard(
        self, name: str, routes: Iterable[Route], counters: LinkCounters, *, size: int = 0
    ) -> "RoutingTable":
        """A new table where shard `name` holds exactly `routes` (an empty iterable removes it)."""
        merged = dict(self.routes)
        for slug in self.shards.get(name, ()):
            merged.pop(slug, None)
        slugs = []
        for route in routes:
            counter = counters.for_link(route.namespace, route.name, route.code)
            merged[route.slug] = prepare(route, counter)
            slugs.append(route.slug)
        shards, sizes = dict(self.shards), dict(self.sizes)
        if slugs:
            shards[name], sizes[name] = frozenset(slugs), size
        else:
            shards.pop(name, None)
            sizes.pop(name, None)
        return RoutingTable(routes=merged, shards=shards, sizes=sizes)


EMPTY_TABLE: Final = RoutingTable(routes={}, shards={}, sizes={})
