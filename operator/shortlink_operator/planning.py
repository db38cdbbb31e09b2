"""From every ShortLink to what the cluster should hold: the table shards, statuses and Events.

`plan` is a pure function of the links, the policies, the table as it is and the settings, so the
operator reaches the same table from the same links whatever order it saw them in, and tests need
no cluster. A link goes through four gates, and the first it fails is its outcome:

1. its spec is valid (`InvalidSpec`);
2. a `ShortLinkPolicy` of its namespace allows its slug (`PolicyViolation`);
3. it owns its slug (`SlugConflict`; see `ownership`, including the grace period);
4. its shard has room under the byte budget (`CapacityExceeded`); links the table already serves
   are placed first, so a full shard refuses the newest links and never drops a served one.
"""

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from shortlink_core.table import (
    FORMAT_KEY,
    FORMAT_VERSION,
    ROUTES_KEY,
    Release,
    Route,
    encode_shard,
    route_entry,
    shard_index,
    shard_name,
)
from shortlink_operator.conditions import Outcome, Reason, current_reason, desired_status
from shortlink_operator.links import IndexedLink
from shortlink_operator.ownership import Key, StatusOf, resolve_ownership
from shortlink_operator.policy import Policy, violation
from shortlink_operator.table_state import TableState

#: A quarter of the API server's 1 MiB object limit: writes of shards this size stay fast
#: (see the facts on ConfigMap write latency) and leave room for metadata and managedFields.
DEFAULT_SHARD_BUDGET: Final = 256 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event to post about a ShortLink, because its outcome changed."""

    namespace: str
    name: str
    uid: str
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    #: Every shard that should exist, by ConfigMap name, with its `data`.
    shards: dict[str, dict[str, str]]
    #: The status to write, for each link whose status must change.
    statuses: dict[tuple[str, str], dict[str, Any]]
    #: Events for outcomes that changed in this plan.
    events: list[Event] = field(default_factory=list)
    #: The earliest end of a grace period still running, to plan again then; None if none runs.
    next_release: str | None = None


def outcome_of(
    link: IndexedLink,
    *,
    owner: Key | None,
    base_url: str,
    held_until: str | None = None,
    refused: str | None = None,
) -> Outcome:
    """What happened to `link`, given the holder of its slug (None when it is invalid)."""
    if link.link is None:
        return Outcome(False, Reason.INVALID_SPEC, link.error or "the spec is invalid")
    if refused is not None:
        return Outcome(False, Reason.POLICY_VIOLATION, refused)
    slug = link.link.slug
    if owner != link.key:
        who = "unknown" if owner is None else f"{owner[0]}/{owner[1]}"
        if held_until is not None:
            return Outcome(
                False,
                Reason.SLUG_CONFLICT,
                f"slug {slug!r} is held for ShortLink {who}, which served it and was deleted, "
                f"until {held_until} (grace period); choose another slug or wait",
            )
        return Outcome(
            False,
            Reason.SLUG_CONFLICT,
            f"slug {slug!r} is already served by ShortLink {who}; choose another slug",
        )
    short_url = f"{base_url}/{slug}"
    return Outcome(True, Reason.PUBLISHED, f"served at {short_url}", slug=slug, short_url=short_url)


def plan(
    links: Iterable[IndexedLink],
    *,
    base_url: str,
    shard_count: int,
    now: str,
    status_of: StatusOf = lambda link: link.status,
    table: TableState | None = None,
    grace_until: str | None = None,
    policies: Sequence[Policy] = (),
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    shard_budget: int = DEFAULT_SHARD_BUDGET,
) -> Plan:
    """The table, statuses and Events for `links`.

    `status_of` gives each link's current status, `table` what the cluster's table says now, and
    `grace_until` when a slug whose owner was deleted in this pass is released (None: at once).
    """
    links = list(links)
    table = table or TableState()
    labels = namespace_labels or {}
    refused = _policy_violations(links, policies, labels)
    held = _holds(links, table, now=now, grace_until=grace_until)
    ownership = resolve_ownership(
        (link for link in links if link.key not in refused),
        status_of=status_of,
        served=table.served,
        reserved={slug: (hold.namespace, hold.name) for slug, hold in held.items()},
    )
    owners = [o for o in ownership.owners.values() if o.link is not None]
    placed, full = _place(owners, table.served, shard_count, shard_budget)
    # Holds whose owner is not back: still written, and named to the links they turn away.
    waiting = {slug: hold for slug, hold in held.items() if slug not in ownership.owners}
    releases = list(waiting.values())
    shards = _encode(placed, releases, shard_count)

    statuses: dict[tuple[str, str], dict[str, Any]] = {}
    events: list[Event] = []
    present = {link.key: link for link in links}
    for link in links:
        outcome = _outcome(link, ownership.losers, waiting, refused, full, base_url=base_url)
        current = status_of(link)
        status = desired_status(current, outcome, generation=link.generation, now=now)
        if status is not None:
            statuses[link.key] = status
        previous = current_reason(current)
        # A first publication is no news: at 100,000 links an Event each would double the writes.
        if previous != outcome.reason and not (previous is None and outcome.ready):
            events.extend(_events(link, outcome, ownership.losers.get(link.key), present))
    next_release = min((hold.until for hold in releases), default=None)
    return Plan(shards=shards, statuses=statuses, events=events, next_release=next_release)


def _policy_violations(
    links: Sequence[IndexedLink],
    policies: Sequence[Policy],
    labels: Mapping[str, Mapping[str, str]],
) -> dict[Key, str]:
    if not policies:
        return {}
    refused: dict[Key, str] = {}
    for link in links:
        if link.link is None:
            continue
        why = violation(
            link.link,
            namespace=link.namespace,
            labels=labels.get(link.namespace, {}),
            policies=policies,
        )
        if why is not None:
            refused[link.key] = why
    return refused


def _holds(
    links: Sequence[IndexedLink], table: TableState, *, now: str, grace_until: str | None
) -> dict[str, Release]:
    """Slugs held for a deleted owner: those held already, and those whose owner just went."""
    present = {link.key for link in links}
    # A hold whose owner is back stays, so the owner wins the slug over newcomers in this pass.
    held = {slug: hold for slug, hold in table.released.items() if hold.until > now}
    if grace_until is not None:
        for slug, owner in table.served.items():
            if owner not in present and slug not in held:
                held[slug] = Release(
                    slug=slug, namespace=owner[0], name=owner[1], until=grace_until
                )
    return held


def _place(
    owners: Sequence[IndexedLink],
    served: Mapping[str, Key],
    shard_count: int,
    budget: int,
) -> tuple[dict[int, list[Route]], set[Key]]:
    """Fill each shard up to `budget` bytes: what is served first, then oldest first."""
    buckets: dict[int, list[IndexedLink]] = {}
    for owner in owners:
        assert owner.link is not None
        buckets.setdefault(shard_index(owner.link.slug, shard_count), []).append(owner)
    placed: dict[int, list[Route]] = {}
    full: set[Key] = set()
    for index, bucket in buckets.items():
        bucket.sort(key=lambda o: (served.get(_slug(o)) != o.key, o.created, o.namespace, o.name))
        size = 2  # the braces of routes.json
        routes: list[Route] = []
        for owner in bucket:
            route = _route(owner)
            entry = len(_entry(route)) + (1 if routes else 0)
            if size + entry > budget and served.get(route.slug) != owner.key:
                full.add(owner.key)
                continue
            size += entry
            routes.append(route)
        if size > budget:
            logger.warning(
                "shard %s holds %d bytes of links already served, over its budget of %d; "
                "raise --shards",
                shard_name(index),
                size,
                budget,
            )
        placed[index] = routes
    return placed, full


def _encode(
    placed: Mapping[int, list[Route]], releases: Sequence[Release], shard_count: int
) -> dict[str, dict[str, str]]:
    held: dict[int, list[Release]] = {}
    for hold in releases:
        held.setdefault(shard_index(hold.slug, shard_count), []).append(hold)
    return {
        shard_name(index): _encoded(placed.get(index, ()), held.get(index, ()))
        for index in sorted(set(placed) | set(held))
    }


def _encoded(routes: Sequence[Route], releases: Sequence[Release]) -> dict[str, str]:
    if releases:
        return encode_shard(routes, releases)
    entries = sorted(routes, key=lambda route: route.slug)
    # The same bytes `encode_shard` writes, from entries cached across passes.
    return {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{" + ",".join(map(_entry, entries)) + "}"}


@functools.lru_cache(maxsize=1 << 18)
def _entry(route: Route) -> str:
    return route_entry(route)


def _route(owner: IndexedLink) -> Route:
    assert owner.link is not None
    link = owner.link
    return Route(
        slug=link.slug,
        url=link.url,
        code=link.redirect_code,
        namespace=owner.namespace,
        name=owner.name,
    )


def _slug(link: IndexedLink) -> str:
    assert link.link is not None
    return link.link.slug


def _outcome(
    link: IndexedLink,
    losers: Mapping[Key, Key],
    held: Mapping[str, Release],
    refused: Mapping[Key, str],
    full: set[Key],
    *,
    base_url: str,
) -> Outcome:
    if link.key in full:
        assert link.link is not None
        return Outcome(
            False,
            Reason.CAPACITY_EXCEEDED,
            f"the routing-table shard for slug {link.link.slug!r} is full; links already served "
            "keep their place, so this newer one waits (an admin can raise --shards)",
        )
    hold = held.get(link.link.slug) if link.link is not None else None
    owner = losers.get(link.key, link.key) if link.link is not None else None
    held_until = hold.until if hold is not None and owner != link.key else None
    return outcome_of(
        link, owner=owner, base_url=base_url, held_until=held_until, refused=refused.get(link.key)
    )


def _events(
    link: IndexedLink, outcome: Outcome, owner: Key | None, present: Mapping[Key, IndexedLink]
) -> list[Event]:
    kind = "Normal" if outcome.ready else "Warning"
    events = [Event(link.namespace, link.name, link.uid, kind, outcome.reason, outcome.message)]
    holder = present.get(owner) if owner is not None and owner != link.key else None
    if outcome.reason == Reason.SLUG_CONFLICT and holder is not None and link.link is not None:
        message = (
            f"ShortLink {link.namespace}/{link.name} also claims slug {link.link.slug!r}; "
            "this link keeps it"
        )
        events.append(
            Event(holder.namespace, holder.name, holder.uid, "Normal", "SlugContested", message)
        )
    return events
