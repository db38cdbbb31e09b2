"""The front page's links: those their owners chose to list, searchable, with their visits.

Only links whose table entry says `listed` are here (the operator decides it from `spec.listed`
or a `ShortLinkPolicy` with `listLinks`; see `shortlink_operator.policy.listed`): nothing is
discoverable unless someone chose so. A link is one entry, whatever its aliases, and a visitor
of a host sees the host-less links and that host's own, never another host's.

Built with the table (one pass over the routes), so the front page never walks the routing table.
A search is bounded: a query of at most `MAX_QUERY` characters, at most `MAX_RESULTS` results, one
scan of the visible entries' prepared lowercase text. "Visits" are the redirects this redirector
process has answered for the link since it started (`shortlink_redirect_total`'s in-process
counters; each replica counts its own): the most visited are recomputed at most every
`TOP_SECONDS`, so a busy front page costs one scan every few seconds.
"""

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from shortlink_redirector.metrics import LinkCounter

if TYPE_CHECKING:  # a cycle at run time: the table builds its listing
    from shortlink_redirector.table import ServedRoute

#: The longest search query answered (a slug is at most 100 characters).
MAX_QUERY: Final = 100
#: Search results shown at most.
MAX_RESULTS: Final = 20
#: Links shown on the front page without a query, alphabetically.
PAGE_SIZE: Final = 50
#: Most visited links shown.
TOP: Final = 10
#: How long the most-visited list is reused before it is computed again.
TOP_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed link: its slugs (the first alphabetically leads), what it is, where it goes."""

    slug: str
    aliases: tuple[str, ...]
    host: str
    description: str
    url: str
    counter: LinkCounter
    #: Slugs and description, lowercase, for the search.
    text: str

    @property
    def visits(self) -> int:
        """Redirects this process answered for the link; 0 when it has no counter of its own
        (over `--max-link-series`)."""
        return 0 if self.counter.shared else self.counter.value

    def as_json(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "aliases": list(self.aliases),
            "host": self.host or None,
            "description": self.description,
            "url": self.url,
            "visits": self.visits,
        }


@dataclass(frozen=True, slots=True)
class Listing:
    #: Entries a visitor of each host sees (sorted by slug); "" for hosts without links of
    #: their own.
    by_host: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    #: host → (when computed, most visited): recomputed after `TOP_SECONDS`.
    _top: dict[str, tuple[float, tuple[Entry, ...]]] = field(default_factory=dict)

    @staticmethod
    def build(routes: Iterable["ServedRoute"]) -> "Listing":
        links: dict[tuple[str, str], list[ServedRoute]] = {}
        for served in routes:
            if served.route.link.listed:
                links.setdefault((served.route.namespace, served.route.name), []).append(served)
        per_host: dict[str, list[Entry]] = {"": []}
        for group in links.values():
            slugs = sorted(served.route.slug for served in group)
            link = group[0].route.link
            entry = Entry(
                slug=slugs[0],
                aliases=tuple(slugs[1:]),
                host=link.host,
                description=link.description,
                url=link.url,
                counter=group[0].counter,
                text=" ".join((*slugs, link.description)).lower(),
            )
            per_host.setdefault(link.host, []).append(entry)
        everywhere = per_host.pop("")
        by_host = {
            host: tuple(sorted((*everywhere, *own), key=_slug)) for host, own in per_host.items()
        }
        by_host[""] = tuple(sorted(everywhere, key=_slug))
        return Listing(by_host=by_host)

    def visible(self, host: str) -> tuple[Entry, ...]:
        """What a visitor of `host` may see: the host-less links and the host's own."""
        return self.by_host.get(host) or self.by_host.get("", ())

    def search(self, host: str, query: str) -> list[Entry]:
        """Up to `MAX_RESULTS` entries containing every word of `query` (at most `MAX_QUERY`
        characters, case ignored): those whose slug starts with the first word come first."""
        words = query[:MAX_QUERY].lower().split()
        if not words:
            return []
        first: list[Entry] = []
        rest: list[Entry] = []
        for entry in self.visible(host):
            if all(word in entry.text for word in words):
                (first if entry.slug.startswith(words[0]) else rest).append(entry)
                if len(first) >= MAX_RESULTS:
                    break
        return (first + rest)[:MAX_RESULTS]

    def most_visited(self, host: str) -> tuple[Entry, ...]:
        """Up to `TOP` visited entries, most visits first (as of at most `TOP_SECONDS` ago)."""
        key = host if host in self.by_host else ""
        now = time.monotonic()
        cached = self._top.get(key)
        if cached is not None and now - cached[0] < TOP_SECONDS:
            return cached[1]
        visited = (entry for entry in self.visible(key) if entry.visits)
        top = tuple(heapq.nlargest(TOP, visited, key=_visits))
        self._top[key] = (now, top)
        return top


def _slug(entry: Entry) -> str:
    return entry.slug


def _visits(entry: Entry) -> int:
    return entry.visits


EMPTY_LISTING: Final = Listing()
