"""Did-you-mean suggestions for an unknown slug, from an index built with the routing table.

Comparing an unknown slug with every slug in the table costs time in proportion to the table
(difflib over 100,000 slugs took about 150 ms of event-loop time, during which no redirect was
answered). `SlugIndex` instead keeps the table's routing keys (`host/matchkey`) sorted twice:
as they are, and by their reversal. A mistyped slug sorts next to the slugs that share its
beginning in the first order, and next to those that share its end in the second, so a typo
anywhere leaves the intended slug close by in at least one of them. A lookup bisects both orders
and scores a fixed number of neighbours with rapidfuzz, so its cost does not grow with the
table beyond the logarithm of the bisection. It may miss a slug that shares neither its
beginning nor its end with the request; it never costs more than `NEIGHBOURS` comparisons per
order and side.

The index holds the table's own key strings (no copies), so its memory is two lists of pointers.
"""

from bisect import bisect_left, insort
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Final

from rapidfuzz import fuzz, process

from shortlink_core.matching import match_key
from shortlink_core.validation import SLUG_MAX_LENGTH

#: Neighbours scored on each side of the request, in each order, for each host searched.
NEIGHBOURS: Final = 16
#: Keys added or removed at most by moving them in place (`SlugIndex.updated`); more, and the
#: index is sorted again (about 40 ms at 100,000 keys, each move about 30 µs).
MAX_MOVED_KEYS: Final = 512
#: Suggestions shown at most.
LIMIT: Final = 3
#: The similarity (0-100, rapidfuzz's normalised InDel ratio, as difflib's ratio x 100) a slug
#: needs to be suggested: 60, difflib's default cutoff.
CUTOFF: Final = 60.0


def _reversed(key: str) -> str:
    return key[::-1]


@dataclass(frozen=True, slots=True)
class SlugIndex:
    """Routing keys sorted forwards and by their reversal, for bounded neighbour lookups."""

    forward: list[str] = field(default_factory=list)
    backward: list[str] = field(default_factory=list)

    @staticmethod
    def build(keys: Iterable[str]) -> "SlugIndex":
        forward = sorted(keys)
        return SlugIndex(forward=forward, backward=sorted(forward, key=_reversed))

    def updated(
        self, removed: Collection[str], added: Collection[str], keys: Iterable[str]
    ) -> "SlugIndex":
        """The index of `keys`, which are this index's keys without `removed` and with `added`.

        A few keys are moved in place (a bisection and a shift each); many, and the index is
        built again from `keys`.
        """
        if len(removed) + len(added) > MAX_MOVED_KEYS:
            return SlugIndex.build(keys)
        forward, backward = list(self.forward), list(self.backward)
        for key in removed:
            del forward[bisect_left(forward, key)]
            del backward[bisect_left(backward, key[::-1], key=_reversed)]
        for key in added:
            insort(forward, key)
            insort(backward, key, key=_reversed)
        return SlugIndex(forward=forward, backward=backward)

    def close_keys(self, host: str, slug: str) -> list[str]:
        """Routing keys of up to `LIMIT` slugs close to `slug` on `host` or host-less, best first.

        Only keys a visitor of `host` can reach are returned: `host/…` and `/…`.
        """
        wanted = match_key(slug[:SLUG_MAX_LENGTH])
        if not wanted or not self.forward:
            return []
        candidates: dict[str, str] = {}  # match key → routing key; the host's own link first
        for prefix in (f"{host}/", "/") if host else ("/",):
            target = prefix + wanted
            at = bisect_left(self.forward, target)
            for key in self.forward[max(0, at - NEIGHBOURS) : at + NEIGHBOURS]:
                if key.startswith(prefix):
                    candidates.setdefault(key[len(prefix) :], key)
            at = bisect_left(self.backward, target[::-1], key=_reversed)
            for key in self.backward[max(0, at - NEIGHBOURS) : at + NEIGHBOURS]:
                if key.startswith(prefix):
                    candidates.setdefault(key[len(prefix) :], key)
        best = process.extract(
            wanted, list(candidates), scorer=fuzz.ratio, limit=LIMIT, score_cutoff=CUTOFF
        )
        return [candidates[found] for found, _, _ in best]


EMPTY_INDEX: Final = SlugIndex()
