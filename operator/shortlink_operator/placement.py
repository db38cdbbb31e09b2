"""Filling the routing-table shards under their byte budget, so no shard is ever planned too big.

Each shard's ConfigMap data (the format key, the routes and the grace-period holds) stays within
`PlanConfig.shard_budget`, whatever the links say; the API server refuses an object over 1 MiB, and
one refused shard must not be what a tenant can cause. Within a shard, room goes first to what the
table serves now, then to the oldest links:

1. the last served entries of links whose new generation does not fit (they keep serving that);
2. links the table already serves, with their new generation;
3. new claims, oldest link first (then namespace/name).

A served link whose new generation does not fit in one of its shards keeps its last served
entries in every shard (it is "kept"), so a link is never served half old, half new. A link whose
entries together need more than `link_limit` bytes (a quarter of the budget: one link never takes
a whole shard) is not placed at all, or kept if it was served. Everything else that does not fit
is refused claim by claim. Keeping a link changes what its other shards hold, so placing repeats
for the shards it touches until no further link has to be kept.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from shortlink_core.table import Release, encode_entries, shard_index, shard_name
from shortlink_operator.ownership import Claim, Key

#: One link's entries may take at most this share of a shard's budget (1/4: 64 KiB by default).
LINK_SHARE: Final = 4

Entry = Callable[[Claim], str]
ClaimId = tuple[str, str, str]  # namespace, name, slug


def link_limit(budget: int) -> int:
    """The most bytes one link's entries (one per slug and alias) may take in the table."""
    return budget // LINK_SHARE


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why something was not placed: the bytes it needed, and the room there was."""

    #: The shard it did not fit in, or the shards of a link over the per-link limit.
    shard: str
    needed: int
    #: Bytes still free in the shard, or the per-link limit when `too_large`.
    room: int
    budget: int
    too_large: bool = False

    def describe(self, what: str) -> str:
        if self.too_large:
            return (
                f"{what} needs {self.needed} bytes in the routing table (in {self.shard}), "
                f"more than one link may take: {self.room} bytes, a quarter of a shard's budget; "
                "use shorter URLs or fewer rules, split arms or aliases"
            )
        return (
            f"{what} needs {self.needed} bytes in routing-table shard {self.shard}, which has "
            f"{self.room} of its {self.budget} bytes free"
        )


@dataclass(slots=True)
class Placement:
    #: The entries of each shard, by shard index.
    entries: dict[int, list[str]] = field(default_factory=dict)
    #: The bytes each shard's data will take.
    sizes: dict[int, int] = field(default_factory=dict)
    #: New claims that did not fit, by (namespace, name, slug).
    refused: dict[ClaimId, Refusal] = field(default_factory=dict)
    #: Served links whose new generation did not fit: they keep their last served entries.
    kept: dict[Key, Refusal] = field(default_factory=dict)


class _Candidate(NamedTuple):
    """One entry that wants room in a shard; candidates sort in the order they get it."""

    rank: int  # 0 served as it is, 1 served but changed, 2 new
    created: str
    namespace: str
    name: str
    alias: bool  # a link's slug comes before its aliases
    key: str  # unique in a shard, so sorting never compares what follows
    entry: str
    claim: Claim | None  # None for a kept link's last served entry


def place(
    claims: Sequence[Claim],
    *,
    entry: Entry,
    served: Mapping[str, Key],
    served_entry: Callable[[str], str | None],
    owned: Mapping[str, Claim],
    settled: Callable[[Claim], bool],
    holds: Iterable[Release],
    shard_count: int,
    budget: int,
) -> Placement:
    """Place `claims` (the routed owners) and the holds under `budget` per shard.

    `served` says for whom the table serves each key now and `served_entry` gives that entry's
    bytes; `owned` is every claimed key's owner, so a kept link keeps only keys nobody else owns;
    `settled` says whether a claim's link is served at the generation it has now.
    """
    limit = link_limit(budget)
    # Each claim's candidate, computed once: its key, entry and shard cost the most.
    by_link: dict[Key, list[tuple[int, _Candidate]]] = {}
    for claim in claims:
        link, key = claim.link, claim.key
        rank = 2 if served.get(key) != link.key else (0 if settled(claim) else 1)
        candidate = _Candidate(
            rank,
            link.created,
            link.namespace,
            link.name,
            claim.slug in claim.spec.aliases,
            key,
            entry(claim),
            claim,
        )
        by_link.setdefault(link.key, []).append((shard_index(key, shard_count), candidate))
    served_links = set(served.values())
    result = Placement()
    kept: set[Key] = set()
    refused_links: set[Key] = set()
    for link_key, own in by_link.items():
        total = sum(len(candidate.entry) + 1 for _, candidate in own)
        if total > limit:
            shards = sorted({shard_name(index) for index, _ in own})
            why = Refusal(", ".join(shards), total, limit, budget, too_large=True)
            if link_key in served_links:
                kept.add(link_key)
                result.kept[link_key] = why
            else:
                refused_links.add(link_key)
                for _, candidate in own:
                    assert candidate.claim is not None
                    result.refused[_id(candidate.claim)] = why
    base = base_sizes(holds, shard_count)
    served_by: dict[Key, list[str]] | None = None

    def candidates() -> dict[int, list[_Candidate]]:
        nonlocal served_by
        buckets: dict[int, list[_Candidate]] = {}
        if kept:
            if served_by is None:
                served_by = {}
                for routing_key, owner in served.items():
                    served_by.setdefault(owner, []).append(routing_key)
            for link_key in kept:
                for routing_key in served_by.get(link_key, ()):
                    holder = owned.get(routing_key)
                    text = served_entry(routing_key)
                    if text is None or (holder is not None and holder.link.key != link_key):
                        continue
                    created = holder.link.created if holder is not None else ""
                    index = shard_index(routing_key, shard_count)
                    buckets.setdefault(index, []).append(
                        _Candidate(0, created, *link_key, False, routing_key, text, None)
                    )
        for link_key, own in by_link.items():
            if link_key not in kept and link_key not in refused_links:
                for index, candidate in own:
                    buckets.setdefault(index, []).append(candidate)
        return buckets

    dirty: set[int] | None = None  # None: every shard
    while True:
        buckets = candidates()
        newly: dict[Key, Refusal] = {}
        for index in buckets if dirty is None else dirty:
            bucket, start = buckets.get(index, []), base.get(index, 0)
            entries, size = _fill(
                index, bucket, start, budget, result, newly, again=dirty is not None
            )
            result.entries[index], result.sizes[index] = entries, size
        if not newly:
            break
        # Keeping a link changes every shard it has entries in: place those again.
        kept.update(newly)
        result.kept.update(newly)
        dirty = {index for key in newly for index, _ in by_link.get(key, ())}
        served_keys = (k for k, owner in served.items() if owner in newly)
        dirty.update(shard_index(k, shard_count) for k in served_keys)
    for index in set(base) - set(result.entries):
        result.entries[index], result.sizes[index] = [], base[index]
    return result


def _fill(
    index: int,
    bucket: list[_Candidate],
    base: int,
    budget: int,
    result: Placement,
    newly: dict[Key, Refusal],
    *,
    again: bool,
) -> tuple[list[str], int]:
    bucket.sort()
    name = shard_name(index)
    if again:  # forget what an earlier round refused here: a kept link may have made room
        for claim_id, why in list(result.refused.items()):
            if why.shard == name and not why.too_large:
                del result.refused[claim_id]
    size = base or EMPTY_SHARD_BYTES
    entries: list[str] = []
    for candidate in bucket:
        grows = len(candidate.entry) + (1 if entries else 0)
        if size + grows <= budget:
            size += grows
            entries.append(candidate.entry)
            continue
        why = Refusal(name, len(candidate.entry), max(budget - size, 0), budget)
        link_key = (candidate.namespace, candidate.name)
        if candidate.claim is None:
            pass
        elif candidate.rank < 2:
            newly.setdefault(link_key, why)
        else:
            result.refused[_id(candidate.claim)] = why
        # A kept link's served entry that no longer fits (a lower budget) is dropped; the link
        # already reports why it was kept.
    return entries, size


def _id(claim: Claim) -> ClaimId:
    return (claim.link.namespace, claim.link.name, claim.slug)


def _data_size(data: Mapping[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in data.items())


#: The bytes of a shard with no routes: its format key and an empty `routes.json`.
EMPTY_SHARD_BYTES: Final = _data_size(encode_entries(()))


def base_sizes(holds: Iterable[Release], shard_count: int) -> dict[int, int]:
    """The bytes each shard takes before any route: the format key and its grace-period holds."""
    by_shard: dict[int, list[Release]] = {}
    for hold in holds:
        by_shard.setdefault(shard_index(hold.key, shard_count), []).append(hold)
    return {index: _data_size(encode_entries((), own)) for index, own in by_shard.items()}
