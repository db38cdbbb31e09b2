"""The front page's links: those their owners chose to list, searchable, with their visits.

Only links whose table entry says `listed` are here (the operator decides it from `spec.listed`
or a `ShortLinkPolicy` with `listLinks`; see `shortlink_operator.policy.listed`): nothing is
discoverable unless someone chose so. A link is one entry, whatever its aliases, and a visitor
of a host sees the host-less links and that host's own, never another host's.

Built from the table the first time the front page asks for it (`RoutingTable.listing`), once per
table: a redirector nobody asks for `/` never builds one, and a table change costs nothing more
until the next front page. A search is bounded: a query of at most `MAX_QUERY` characters, one
`str.find` pass (C speed) over the visible entries' text joined into one lowercase string, at
most `MAX_MATCHES` matches considered (in slug order) and `MAX_RESULTS` shown. "Visits" are the
redirects this redirector process has answered for the link since it started (the in-process
counters behind `shortlink_redirects_total`; each replica counts its own): the most visited are
recomputed at most every `TOP_SECONDS`, so a busy front page costs one scan every few seconds.
"""

import heapq
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, NamedTuple

from shortlink_redirector.metrics import LinkCounter

if TYPE_CHECKING:  # a cycle at run time: the table builds its listing
    from shortlink_redirector.table import ServedRoute

#: The longest search query answered (a slug is at most 100 characters).
MAX_QUERY: Final = 100
#: Search results shown at most.
MAX_RESULTS: Final = 20
#: Words of a query used at most.
MAX_WORDS: Final = 8
#: Matches considered at most (in slug order) before the best `MAX_RESULTS` are chosen.
MAX_MATCHES: Final = 200
#: Links shown on the front page without a query, alphabetically.
PAGE_SIZE: Final = 50
#: Most visited links shown.
TOP: Final = 10
#: How long the most-visited list is reused before it is computed again.
TOP_SECONDS: Final = 5.0


class Entry(NamedTuple):
    """One listed link: its slugs (the first alphabetically leads), what it is, where it goes.
    A tuple: a listing of tens of thousands is built in a blink."""

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
class View:
    """The entries one host's visitors see, sorted by slug, and their text joined for search."""

    entries: tuple[Entry, ...]
    #: Every entry's text, joined by newlines (no search word holds one).
    text: str
    #: Where each entry's text starts in `text`.
    starts: tuple[int, ...]

    @staticmethod
    def of(entries: Iterable[Entry]) -> "View":
        ordered = tuple(sorted(entries, key=_by_slug))
        starts, at = [], 0
        for entry in ordered:
            starts.append(at)
            at += len(entry.text) + 1
        return View(ordered, "\n".join(entry.text for entry in ordered), tuple(starts))


EMPTY_VIEW: Final = View((), "", ())


@dataclass(frozen=True, slots=True)
class Listing:
    #: What a visitor of each host sees; "" for hosts without links of their own.
    views: dict[str, View] = field(default_factory=dict)
    #: host → (when computed, most visited): recomputed after `TOP_SECONDS`.
    _top: dict[str, tuple[float, tuple[Entry, ...]]] = field(default_factory=dict)

    @staticmethod
    def build(routes: Iterable["ServedRoute"]) -> "Listing":
        groups: dict[tuple[str, str], list[ServedRoute]] = {}
        for served in routes:
            route = served.route
            if route.link.listed:
                key = (route.namespace, route.name)
                group = groups.get(key)
                if group is None:
                    groups[key] = [served]
                else:
                    group.append(served)
        per_host: dict[str, list[Entry]] = {"": []}
        for group in groups.values():
            first = group[0]
            link = first.route.link
            if len(group) == 1:
                slugs = [first.route.slug]
            else:
                slugs = sorted(served.route.slug for served in group)
            text = f"{' '.join(slugs)} {link.description}".lower()
            entry = Entry(
                slugs[0],
                tuple(slugs[1:]),
                link.host,
                link.description,
                link.url,
                first.counter,
                text,
            )
            per_host.setdefault(link.host, []).append(entry)
        everywhere = per_host.pop("")
        views = {host: View.of((*everywhere, *own)) for host, own in per_host.items()}
        views[""] = View.of(everywhere)
        return Listing(views=views)

    def visible(self, host: str) -> tuple[Entry, ...]:
        """What a visitor of `host` may see: the host-less links and the host's own."""
        return self._view(host).entries

    def _view(self, host: str) -> View:
        return self.views.get(host) or self.views.get("", EMPTY_VIEW)

    def search(self, host: str, query: str) -> list[Entry]:
        """Up to `MAX_RESULTS` entries containing every word of `query` (at most `MAX_QUERY`
        characters, case ignored), among the first `MAX_MATCHES` in slug order: those whose
        slug starts with the first word come first."""
        words = list(dict.fromkeys(query[:MAX_QUERY].lower().split()))[:MAX_WORDS]
        if not words:
            return []
        first = words[0]
        view = self._view(host)
        text, starts, entries = view.text, view.starts, view.entries
        # Walk the occurrences of the rarest word (counting is one C pass per word), so a
        # common word next to a rare one does not make the walk visit every entry.
        pivot = min(words, key=text.count)
        matches: list[Entry] = []
        at = text.find(pivot)
        while at != -1 and len(matches) < MAX_MATCHES:
            index = bisect_right(starts, at) - 1
            entry = entries[index]
            if all(word in entry.text for word in words):
                matches.append(entry)
            # On to the next entry: one match per entry.
            following = index + 1
            if following == len(starts):
                break
            at = text.find(pivot, starts[following])
        leading = [entry for entry in matches if entry.slug.startswith(first)]
        others = [entry for entry in matches if not entry.slug.startswith(first)]
        return (leading + others)[:MAX_RESULTS]

    def most_visited(self, host: str) -> tuple[Entry, ...]:
        """Up to `TOP` visited entries, most visits first (as of at most `TOP_SECONDS` ago)."""
        key = host if host in self.views else ""
        now = time.monotonic()
        cached = self._top.get(key)
        if cached is not None and now - cached[0] < TOP_SECONDS:
            return cached[1]
        visited = (entry for entry in self.visible(key) if entry.visits)
        top = tuple(heapq.nlargest(TOP, visited, key=_visits))
        self._top[key] = (now, top)
        return top


def _by_slug(entry: Entry) -> tuple[str, str]:
    # The host too: a host's own link and a host-less one may share a slug.
    return entry.slug, entry.host


def _visits(entry: Entry) -> int:
    return entry.visits


EMPTY_LISTING: Final = Listing()
