"""From every ShortLink to what the cluster should hold: table shards, statuses and Events.

`plan` is a pure function of the links, the policies, the table as it is, the settings and the
time, so the operator reaches the same table from the same links whatever order it saw them in,
and tests need no cluster. A link's outcome is the first of these that applies:

1. its spec is invalid, or a destination points back at the shortener (its public base URL or a
   host some link serves): no route, `InvalidSpec`;
2. a `ShortLinkPolicy` of its namespace does not allow its slugs or host, or its `targetRef`
   names an object in a namespace no policy lets it reference: `PolicyViolation` (the target
   is then not even looked at, so its address never shows in the link's status);
3. it lost its slug to another link, or the slug is held for a deleted owner during the grace
   period: `SlugConflict` naming the holder (aliases it won are still served);
4. it does not fit under the byte budget (see `placement`): `CapacityExceeded`, naming the shard
   and the bytes. A full shard refuses the newest links, never a served one; a served link whose
   new generation does not fit keeps serving its last published entries;
5. its `targetRef` resolves to no URL (`resolution`): the object does not exist,
   `TargetNotFound`, or has no address, or one the URL judge refuses (or one back at the
   shortener), `TargetUnresolvable`. It keeps its slugs but has no route (there is no URL to send
   anyone to), so the link comes back as it was when the object does;
6. suspended: it keeps its slugs (resuming gets them back) and its routes, marked suspended, so
   the redirector answers 404 with a page naming whom to ask, `Suspended`;
7. before `activeFrom` or after `expiresAt`: routed (the redirector enforces the times to the
   second), `Scheduled` or `Expired`;
8. otherwise routed and `Published`.

A link with a resolved `targetRef` is planned exactly as if its `url` were the resolved URL, and
`status.resolvedURL` shows that URL. Each route carries what the redirector's pages show: whether
the front page lists the link (its `spec.listed`, else its namespace's policies: see
`policy.listed`) and when it last changed.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from shortlink_core.api import API_VERSION, KIND
from shortlink_core.errors import InvalidLink
from shortlink_core.table import (
    Release,
    Route,
    encode_entries,
    route_entry,
    shard_index,
    shard_name,
)
from shortlink_core.targets import loop_back
from shortlink_operator.conditions import Outcome, Reason, current_reason, desired_status
from shortlink_operator.generated import choose_code, full_code
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.ownership import Claim, Key, Ownership, StatusOf, resolve_ownership
from shortlink_operator.placement import Placement, place
from shortlink_operator.policy import Policy, listed, target_violation, violation
from shortlink_operator.resolution import Referents, Unresolved, resolve
from shortlink_operator.table_state import TableState

#: A quarter of the API server's 1 MiB object limit: writes of shards this size stay fast
#: (see the facts on ConfigMap write latency) and leave room for metadata and managedFields.
DEFAULT_SHARD_BUDGET: Final = 256 * 1024
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlanConfig:
    base_url: str
    shard_count: int
    slug_key: bytes = b"shortlink"
    shard_budget: int = DEFAULT_SHARD_BUDGET
    #: How long a deleted owner's slugs are held for it; 0 releases them at once.
    grace_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event to post about a ShortLink, because its outcome changed."""

    namespace: str
    name: str
    uid: str
    type: str  # Normal or Warning
    reason: str
    message: str
    #: The link whose new status this Event reports (not always the one it is about): it is
    #: posted only once that status is written, so a status left for the next pass is
    #: announced then, once.
    cause: tuple[str, str]
    #: What the Event is about: a ShortLink, or the object that declared one (`declared`).
    kind: str = KIND
    api_version: str = API_VERSION


@dataclass(slots=True)
class Targets:
    """What became of the links with a `targetRef` in this pass."""

    #: Links whose targetRef a policy refuses (cross-namespace), with the message.
    refused: dict[Key, str] = field(default_factory=dict)
    #: Links whose target gives no URL: TargetNotFound or TargetUnresolvable, with the message.
    unresolved: dict[Key, tuple[Reason, str]] = field(default_factory=dict)
    #: The URL each resolved link redirects to.
    resolved: dict[Key, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    #: Every shard that should exist, by ConfigMap name, with its `data`.
    shards: dict[str, dict[str, str]]
    #: The status to write, for each link whose status must change.
    statuses: dict[tuple[str, str], dict[str, Any]]
    #: Events for outcomes that changed in this plan.
    events: list[Event] = field(default_factory=list)
    #: The next time (Unix seconds) an outcome changes by itself: `activeFrom` or `expiresAt`
    #: passing, or a grace period ending. None if there is none.
    next_change: float | None = None
    #: For each status to write, the shards it describes (where the link is served now or is to
    #: be): a status is written only once those shards are, so it never claims an unwritten table.
    depends_on: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    #: The routes in each shard, when the planner counted them (the metrics need not decode).
    entries: dict[str, int] | None = None
    #: For shards whose data the planner knows the routing keys of: whom each key is served for
    #: (the table reader then need not decode what the operator itself wrote).
    served: dict[str, dict[str, Key]] = field(default_factory=dict)


def plan(
    links: Iterable[IndexedLink],
    *,
    settings: PlanConfig,
    now: float,
    status_of: StatusOf = lambda link: link.status,
    table: TableState | None = None,
    policies: Sequence[Policy] = (),
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    referents: Referents | None = None,
) -> Plan:
    """The table, statuses and Events for `links`; `table` is what the cluster's table says now."""
    labels = namespace_labels or {}
    targets = Targets()
    links = _resolve_targets(list(links), referents or Referents(), policies, labels, targets)
    links = _refuse_loops(links, settings.base_url, targets)
    table = table or TableState()
    timestamp = iso(now)
    refused = {**targets.refused, **_policy_violations(links, policies, labels)}
    allowed = [link for link in links if link.key not in refused]
    claims, primary = _claims(allowed, settings=settings, status_of=status_of)
    held = holds(links, table, now=now, grace_seconds=settings.grace_seconds)
    ownership = resolve_ownership(
        claims,
        status_of=status_of,
        served=table.served,
        reserved={key: (hold.namespace, hold.name) for key, hold in held.items()},
    )
    # A link whose targetRef resolves to nothing has no URL to route; it keeps its slugs.
    routed = [
        claim for claim in ownership.owners.values() if claim.link.key not in targets.unresolved
    ]
    shown = {
        link.key
        for link in allowed
        if link.link is not None
        and listed(
            link.link,
            namespace=link.namespace,
            labels=labels.get(link.namespace, {}),
            policies=policies,
        )
    }
    # Holds whose owner is not back: still written, and named to the links they turn away.
    waiting = {key: hold for key, hold in held.items() if key not in ownership.owners}
    placement = place(
        routed,
        entry=lambda claim: entry_of(claim, listed=claim.link.key in shown),
        served=table.served,
        served_entry=table.entry,
        owned=ownership.owners,
        settled=lambda claim: settled(status_of(claim.link), claim.link.generation),
        holds=waiting.values(),
        shard_count=settings.shard_count,
        budget=settings.shard_budget,
    )
    shards = _encode(placement.entries, waiting.values(), settings.shard_count)

    statuses: dict[tuple[str, str], dict[str, Any]] = {}
    events: list[Event] = []
    present = {link.key: link for link in links}
    for link in links:
        outcome = outcome_of(
            link,
            primary.get(link.key),
            ownership,
            waiting,
            refused,
            placement,
            targets,
            status=status_of(link),
            settings=settings,
            now=now,
        )
        current = status_of(link)
        status = desired_status(current, outcome, generation=link.generation, now=timestamp)
        if status is not None:
            statuses[link.key] = status
        previous = current_reason(current)
        # A first publication is no news: at 100,000 links an Event each would double the writes.
        if previous != outcome.reason and not (previous is None and outcome.ready):
            holder = holder_of(link, primary.get(link.key), ownership)
            events.extend(events_of(link, outcome, holder, present))
    moments = [
        moment
        for link in allowed
        if link.link is not None
        for moment in (link.link.active_from, link.link.expires_at)
        if moment is not None and moment > now
    ]
    moments += [moment_of(hold.until) for hold in waiting.values()]
    return Plan(
        shards=shards,
        statuses=statuses,
        events=events,
        next_change=min(moments, default=None),
        depends_on=shards_of(statuses, claims, table.served, settings.shard_count),
    )


def _resolve_targets(
    links: list[IndexedLink],
    referents: Referents,
    policies: Sequence[Policy],
    labels: Mapping[str, Mapping[str, str]],
    targets: Targets,
) -> list[IndexedLink]:
    """`links`, each with a `targetRef` given its resolved URL; what became of them in `targets`.

    A link refused or unresolved keeps its spec (and so its slug claims) without a URL.
    """
    for index, link in enumerate(links):
        spec = link.link
        if spec is None or spec.target is None:
            continue
        why = target_violation(
            spec,
            namespace=link.namespace,
            labels=labels.get(link.namespace, {}),
            policies=policies,
        )
        if why is not None:
            targets.refused[link.key] = why
            continue
        try:
            url = resolve(spec.target, namespace=link.namespace, referents=referents)
            resolved = replace(spec, url=url)
            if resolved.utm:
                resolved.with_utm_applied()
        except Unresolved as unresolved:
            targets.unresolved[link.key] = (unresolved.reason, unresolved.message)
            continue
        except InvalidLink as error:
            message = f"targetRef: with the UTM tags added, {error}"
            targets.unresolved[link.key] = (Reason.TARGET_UNRESOLVABLE, message)
            continue
        targets.resolved[link.key] = url
        links[index] = replace(link, link=resolved)
    return links


def _refuse_loops(links: list[IndexedLink], base_url: str, targets: Targets) -> list[IndexedLink]:
    """`links`, those with a destination back at the shortener made invalid (`InvalidSpec`).

    A resolved targetRef back at the shortener is the object's doing, not the spec's: that link
    is `TargetUnresolvable` instead, and keeps its claims without a URL.
    """
    # Hosts of every valid link, served or not: a fixed set, so two links on two hosts pointing
    # at each other are both refused whatever order they came in.
    hosts = frozenset(link.link.host for link in links if link.link is not None and link.link.host)
    refused = []
    for index, link in enumerate(links):
        if link.link is not None:
            spec = link.link
            own = replace(spec, url="") if link.key in targets.resolved else spec
            why = loop_back(own.destinations, base_url=base_url, hosts=hosts)
            if why is not None:
                refused.append((index, replace(link, link=None, error=f"spec: {why}")))
            elif own is not spec and (
                why := loop_back((spec.url,), base_url=base_url, hosts=hosts)
            ):
                del targets.resolved[link.key]
                targets.unresolved[link.key] = (Reason.TARGET_UNRESOLVABLE, f"targetRef: {why}")
                refused.append((index, replace(link, link=own)))
    if not refused:
        return links
    links = list(links)
    for index, invalid in refused:
        links[index] = invalid
    return links


def shards_of(
    keys: Iterable[Key], claims: Iterable[Claim], served: Mapping[str, Key], shard_count: int
) -> dict[Key, frozenset[str]]:
    """The shards each of `keys` is or will be served in: those of its claims and served keys."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[Key, set[int]] = {key: set() for key in wanted}
    for claim in claims:
        if claim.link.key in wanted:
            found[claim.link.key].add(shard_index(claim.key, shard_count))
    for routing_key, owner in served.items():
        if owner in wanted:
            found[owner].add(shard_index(routing_key, shard_count))
    return {key: frozenset(map(shard_name, indexes)) for key, indexes in found.items()}


def _policy_violations(
    links: Sequence[IndexedLink],
    policies: Sequence[Policy],
    labels: Mapping[str, Mapping[str, str]],
) -> dict[Key, str]:
    if not policies:
        return {}
    refused: dict[Key, str] = {}
    for link in links:
        if link.link is not None:
            why = violation(
                link.link,
                namespace=link.namespace,
                labels=labels.get(link.namespace, {}),
                policies=policies,
            )
            if why is not None:
                refused[link.key] = why
    return refused


def _claims(
    links: list[IndexedLink], *, settings: PlanConfig, status_of: StatusOf
) -> tuple[list[Claim], dict[Key, str]]:
    """Every (link, slug) claim, and each link's primary slug.

    Generated codes are chosen after every chosen slug is known, oldest link first, so a code
    never collides with a slug someone chose.
    """
    valid = [(link, link.link) for link in links if link.link is not None]
    claims = [Claim(link, spec, slug) for link, spec in valid for slug in spec.slugs]
    primary = {link.key: spec.slug for link, spec in valid if spec.slug is not None}
    taken = {claim.key for claim in claims}
    for link, spec in sorted(
        ((link, spec) for link, spec in valid if spec.slug is None),
        key=lambda pair: (pair[0].created, pair[0].namespace, pair[0].name),
    ):
        previous = status_of(link).get("slug")
        code = choose_code(
            full_code(settings.slug_key, link.namespace, link.name),
            host=spec.host,
            taken=taken,
            keep=previous if isinstance(previous, str) else None,
        )
        claims.append(Claim(link, spec, code))
        primary[link.key] = code
    return claims, primary


def holds(
    links: Sequence[IndexedLink], table: TableState, *, now: float, grace_seconds: float
) -> dict[str, Release]:
    """Keys held for a deleted owner: those held already, and those whose owner just went."""
    present = {link.key for link in links}
    timestamp = iso(now)
    # A hold whose owner is back stays, so the owner wins the key over newcomers in this pass.
    held = {key: hold for key, hold in table.released.items() if hold.until > timestamp}
    if grace_seconds > 0:
        until = iso(now + grace_seconds)
        for key, owner in table.served.items():
            if owner not in present and key not in held:
                held[key] = Release(key=key, namespace=owner[0], name=owner[1], until=until)
    return held


def settled(status: Mapping[str, Any], generation: int) -> bool:
    """Whether the table serves the link at `generation`: its status says so, and does not say
    that the link kept an older generation (CapacityExceeded while it is served)."""
    return (
        status.get("observedGeneration") == generation
        and current_reason(status) != Reason.CAPACITY_EXCEEDED
    )


def _encode(
    entries: Mapping[int, list[str]], releases: Iterable[Release], shard_count: int
) -> dict[str, dict[str, str]]:
    held: dict[int, list[Release]] = {}
    for hold in releases:
        held.setdefault(shard_index(hold.key, shard_count), []).append(hold)
    return {
        shard_name(index): encode_entries(entries.get(index, ()), held.get(index, ()))
        for index in sorted(set(entries) | set(held))
        if entries.get(index) or held.get(index)
    }


def entry_of(claim: Claim, *, listed: bool) -> str:
    """A claim's bytes in its shard: the link as the table holds it (UTM tags applied, `listed`
    decided: True, or left out) at the claim's slug. (`incremental` keeps them between passes.)"""
    served, shown = claim.spec.with_utm_applied(), True if listed else None
    if served.listed != shown:  # most links: as they are (a copy each costs a restart seconds)
        served = replace(served, listed=shown)
    return route_entry(
        Route(
            slug=claim.slug,
            link=served,
            namespace=claim.link.namespace,
            name=claim.link.name,
            changed=claim.link.changed,
        )
    )


def outcome_of(
    link: IndexedLink,
    slug: str | None,
    ownership: Ownership,
    held: Mapping[str, Release],
    refused: Mapping[Key, str],
    placement: Placement,
    targets: Targets,
    *,
    status: Mapping[str, Any],
    settings: PlanConfig,
    now: float,
) -> Outcome:
    """What happened to `link`, whose primary slug (chosen or generated) is `slug`."""
    outcome = _outcome_of(
        link, slug, ownership, held, refused, placement, targets, status, settings, now
    )
    resolved = targets.resolved.get(link.key)
    if resolved is None or outcome.reason in (Reason.INVALID_SPEC, Reason.POLICY_VIOLATION):
        return outcome
    return replace(outcome, resolved_url=resolved)


def _outcome_of(
    link: IndexedLink,
    slug: str | None,
    ownership: Ownership,
    held: Mapping[str, Release],
    refused: Mapping[Key, str],
    placement: Placement,
    targets: Targets,
    status: Mapping[str, Any],
    settings: PlanConfig,
    now: float,
) -> Outcome:
    spec = link.link
    if spec is None:
        return Outcome(False, Reason.INVALID_SPEC, link.error or "the spec is invalid")
    if link.key in refused:
        return Outcome(False, Reason.POLICY_VIOLATION, refused[link.key])
    assert slug is not None  # every valid, allowed link has a primary slug
    lost = {
        claimed: ownership.losers[(link.namespace, link.name, claimed)]
        for claimed in (slug, *spec.aliases)
        if (link.namespace, link.name, claimed) in ownership.losers
    }
    if slug in lost:
        holder = lost[slug]
        hold = held.get(Claim(link, spec, slug).key)
        if hold is not None and (hold.namespace, hold.name) == holder:
            return Outcome(
                False,
                Reason.SLUG_CONFLICT,
                f"slug {slug!r} is held for ShortLink {holder[0]}/{holder[1]}, which served it and "
                f"was deleted, until {hold.until} (grace period); choose another slug or wait",
            )
        return Outcome(
            False,
            Reason.SLUG_CONFLICT,
            f"slug {slug!r} is already served by ShortLink {holder[0]}/{holder[1]}; "
            "choose another slug",
        )
    kept = placement.kept.get(link.key)
    if kept is not None:
        served = status  # what the last written status says is served, and still is
        return Outcome(
            False,
            Reason.CAPACITY_EXCEEDED,
            kept.describe(f"generation {link.generation}")
            + "; the link is still served as last published (nothing served is dropped); "
            "shorten it, or an admin can raise --shards or --shard-budget-bytes",
            slug=served.get("slug"),
            short_url=served.get("shortURL"),
            aliases=tuple(served.get("aliases") or ()),
        )
    full = placement.refused.get((link.namespace, link.name, slug))
    if full is not None:
        return Outcome(
            False,
            Reason.CAPACITY_EXCEEDED,
            full.describe(f"slug {slug!r}")
            + "; links already served keep their place, so this newer one waits (an admin can "
            "raise --shards or --shard-budget-bytes)",
        )
    short_url = _short_url(settings.base_url, spec.host, slug)
    unplaced = {
        alias: why
        for alias in spec.aliases
        if (why := placement.refused.get((link.namespace, link.name, alias))) is not None
    }
    aliases = tuple(sorted(a for a in spec.aliases if a not in lost and a not in unplaced))
    notes = "".join(
        f"; alias {alias!r} is served by ShortLink {holder[0]}/{holder[1]}"
        for alias, holder in sorted(lost.items())
    ) + "".join(f"; {why.describe(f'alias {alias!r}')}" for alias, why in sorted(unplaced.items()))

    def outcome(ready: bool, reason: Reason, message: str) -> Outcome:
        return Outcome(
            ready, reason, message + notes, slug=slug, short_url=short_url, aliases=aliases
        )

    unresolved = targets.unresolved.get(link.key)
    if unresolved is not None:
        reason, message = unresolved
        return outcome(False, reason, message + "; the link is not served until it resolves")
    if spec.suspended:
        return outcome(False, Reason.SUSPENDED, "suspended (spec.suspended is true)")
    if spec.active_from is not None and now < spec.active_from:
        return outcome(
            False, Reason.SCHEDULED, f"will be served at {short_url} from {iso(spec.active_from)}"
        )
    if spec.expires_at is not None and now >= spec.expires_at:
        after = f"sent to {spec.expired_url}" if spec.expired_url else "answered 410 Gone"
        return outcome(
            False, Reason.EXPIRED, f"expired at {iso(spec.expires_at)}; visitors are {after}"
        )
    also = f" (also as {', '.join(aliases)})" if aliases else ""
    return outcome(True, Reason.PUBLISHED, f"served at {short_url}{also}")


def holder_of(link: IndexedLink, slug: str | None, ownership: Ownership) -> Key | None:
    return ownership.losers.get((link.namespace, link.name, slug)) if slug is not None else None


def events_of(
    link: IndexedLink, outcome: Outcome, holder: Key | None, present: Mapping[Key, IndexedLink]
) -> list[Event]:
    kind = "Normal" if outcome.ready else "Warning"
    events = [
        Event(link.namespace, link.name, link.uid, kind, outcome.reason, outcome.message, link.key)
    ]
    declarer = link.owner
    if declarer is not None and not outcome.ready:
        # A link declared by annotation: its owner's `kubectl describe` shows the trouble too.
        events.append(
            Event(
                link.namespace,
                declarer.name,
                declarer.uid,
                kind,
                outcome.reason,
                f"ShortLink {link.namespace}/{link.name}: {outcome.message}",
                link.key,
                kind=declarer.kind,
                api_version=declarer.api_version,
            )
        )
    owner = present.get(holder) if holder is not None else None
    if outcome.reason == Reason.SLUG_CONFLICT and owner is not None:
        message = (
            f"ShortLink {link.namespace}/{link.name} also claims this link's slug; "
            "this link keeps it"
        )
        events.append(
            Event(
                owner.namespace, owner.name, owner.uid, "Normal", "SlugContested", message, link.key
            )
        )
    return events


def _short_url(base_url: str, host: str, slug: str) -> str:
    if not host:
        return f"{base_url}/{slug}"
    return f"{urlsplit(base_url).scheme}://{host}/{slug}"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime(TIME_FORMAT)


def moment_of(moment: str) -> float:
    return datetime.strptime(moment, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
