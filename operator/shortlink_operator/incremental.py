"""Planning that redoes only what changed since the last pass, with the same answer as `plan`.

`planning.plan` decides everything from scratch: at 100,000 links that is seconds of CPU per pass,
although a pass usually follows a handful of changes. `Planner.plan` takes the same inputs and
returns the same `Plan` (a property test holds the two together on random change sequences), but
keeps, from one pass to the next, what each link contributes, and redoes it only for the links
whose inputs changed:

- per link (`_Prepared`): its target resolved, the loop and policy checks, whether it is listed,
  its claims with their routing keys and their table entries (the JSON bytes). Kept while the
  link's planned part (`link_index.planned_part`) is equal, and while the policies, the namespace
  labels, the hosts of every link and the settings are; a link with a `targetRef` is prepared
  again whenever an object it may name changed;
- per routing key, ownership: a key with one claim and no grace-period hold needs no decision; the
  contested ones are decided as `ownership.resolve_ownership` decides them;
- per shard, its encoded data: encoded again only when its entries or holds changed;
- per link, its outcome and status: decided again only when something it depends on changed (its
  preparation, its status, a contested key it claims, a time it waits for, a status not yet
  written); for every other link the last pass found its status already right, and still does.

Placing under the byte budget takes a fast path when every shard's entries fit (then every entry
is placed, whatever order `placement` would take them in); when one does not, or a served link is
kept at its last generation, the whole placement runs as `plan` runs it, and every outcome is
decided again in that pass and the next.

Every cache is checked against the inputs it was made from (by identity or equality) rather than
told what changed, so no change can be missed by a forgotten notification: a cache entry that
does not match is simply made again. The price is a walk over every link per pass, a few
dictionary lookups each: at 100,000 links a pass still takes a few tenths of a second of CPU
(against 4-5 s planned from scratch), which tracking dirty keys from the indexes could remove.
There is no periodic full re-plan as a safety net: one costs as much as planning from scratch
(seconds at 100,000 links, at every resync); the property test is what holds the two together.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from shortlink_core.errors import InvalidLink
from shortlink_core.matching import reserved_as, routing_key
from shortlink_core.table import Release, encode_entries, shard_index, shard_name
from shortlink_core.targets import loop_back
from shortlink_operator.conditions import Reason, current_reason, desired_status
from shortlink_operator.generated import DEFAULT_LENGTH, full_code
from shortlink_operator.link_index import IndexedLink, planned_part
from shortlink_operator.ownership import Claim, Key, Ownership, StatusOf, resolve_ownership
from shortlink_operator.placement import (
    EMPTY_SHARD_BYTES,
    Placement,
    Refusal,
    base_sizes,
    link_limit,
    place,
)
from shortlink_operator.planning import (
    Event,
    Plan,
    PlanConfig,
    Targets,
    entry_of,
    events_of,
    holder_of,
    iso,
    moment_of,
    outcome_of,
    settled,
)
from shortlink_operator.policy import Policy, listed, target_violation, violation
from shortlink_operator.resolution import Referents, Unresolved, resolve
from shortlink_operator.table_state import TableState

_NO_STATUS: Final[Mapping[str, Any]] = MappingProxyType({})
#: Sorts after every real (created, namespace, name).
_LAST: Final = ("\uffff",)


@dataclass(slots=True)
class _Prepared:
    """One link's part of a plan that depends on nothing but the link and the global inputs."""

    #: The link it was prepared from (an equal planned part may come in a newer object).
    source: IndexedLink
    #: The link as planned: a resolved `targetRef` as its URL, or made invalid (a loop).
    link: IndexedLink
    refused: str | None = None
    unresolved: tuple[Reason, str] | None = None
    resolved: str | None = None
    #: The target's refusal (cross-namespace), overridden by a policy violation in `refused`.
    target_refused: str | None = None
    listed: bool = False
    #: The claims of its chosen slug and aliases (empty when refused or invalid).
    claims: tuple[Claim, ...] = ()
    generated: bool = False
    #: Its generated code's full HMAC characters and the last claim made of it.
    code: str = ""
    generated_claim: Claim | None = None
    #: Each claim's entry in the table, by slug.
    entries: dict[str, str] = field(default_factory=dict)
    #: activeFrom and expiresAt: the outcome changes by itself at these times.
    moments: tuple[float, ...] = ()
    #: Refused, with a target, or waiting for a time: looked at in every pass.
    special: bool = False
    #: Each claim's shard and entry, and their bytes with commas, for the claims last placed.
    placed: tuple[tuple[int, str, str], ...] = ()
    placed_claims: tuple[Claim, ...] = ()
    #: Its claims and its generated code's claim, as of this pass (empty when it claims none).
    every_claim: tuple[Claim, ...] = ()
    placed_bytes: int = 0

    @property
    def allowed(self) -> bool:
        return self.refused is None

    def entry(self, claim: Claim) -> str:
        text = self.entries.get(claim.slug)
        if text is None:
            text = self.entries[claim.slug] = entry_of(claim, listed=self.listed)
        return text


@dataclass(slots=True)
class _Decided:
    """One link's outcome as last decided, with what it was decided from."""

    prepared: _Prepared
    status: Mapping[str, Any]
    primary: str | None
    #: Whether it had a status to write: then it is decided again (the write may not have
    #: happened, and its `lastTransitionTime` is the time of the pass).
    pending: bool


@dataclass(frozen=True, slots=True)
class _Globals:
    settings: PlanConfig
    policies: tuple[Policy, ...]
    labels: Mapping[str, Mapping[str, str]]
    hosts: frozenset[str]


class Planner:
    """`planning.plan`, from memory of the last pass (see the module docstring)."""

    def __init__(self) -> None:
        self._globals: _Globals | None = None
        self._referents: Referents | None = None
        self._prepared: dict[Key, _Prepared] = {}
        self._decided: dict[Key, _Decided] = {}
        self._encoded: dict[int, tuple[list[str], tuple[Release, ...], dict[str, str]]] = {}
        #: Links whose outcome must be decided again in the next pass whatever else holds.
        self._again: set[Key] = set()
        self._all_again = True

    def plan(
        self,
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
        """What `planning.plan` returns for the same arguments."""
        links = list(links)
        table = table or TableState()
        referents = referents or Referents()
        current = {link.key: link for link in links}

        # Claims hold the link object they were prepared from, which may be older than the one
        # given now (its status came back from a write): status is always looked up by key.
        def status_now(link: IndexedLink) -> Mapping[str, Any]:
            return status_of(current.get(link.key, link))

        self._forget_if_changed(links, settings, policies, namespace_labels or {}, referents)
        assert self._globals is not None
        prepared, special = self._prepare_all(links, referents, settings)

        claims, primary = self._claims(links, prepared, status_of, settings)
        held = _holds(current, table, now=now, grace_seconds=settings.grace_seconds)
        ownership, contested = _ownership(claims, status_now, table.served, held)
        waiting = {key: hold for key, hold in held.items() if key not in ownership.owners}
        targets = Targets()
        refused: dict[Key, str] = {}
        for p in special:
            key = p.link.key
            if p.target_refused is not None:
                targets.refused[key] = p.target_refused
            if p.unresolved is not None:
                targets.unresolved[key] = p.unresolved
            if p.resolved is not None:
                targets.resolved[key] = p.resolved
            if p.refused is not None:
                refused[key] = p.refused

        fast = _place_all_fit(
            links,
            prepared,
            ownership.owners,
            served=table.served,
            waiting=waiting.values(),
            settings=settings,
        )
        full = fast is None
        served_in: dict[int, list[tuple[str, Key]]] = {}
        if fast is not None:
            placement, served_in = fast
        else:
            placement = place(
                [c for c in ownership.owners.values() if c.link.key not in targets.unresolved],
                entry=lambda claim: prepared[claim.link.key].entry(claim),
                served=table.served,
                served_entry=table.entry,
                owned=ownership.owners,
                settled=lambda claim: settled(status_now(claim.link), claim.link.generation),
                holds=waiting.values(),
                shard_count=settings.shard_count,
                budget=settings.shard_budget,
            )
        shards, written = self._encode(
            placement.entries, waiting.values(), settings.shard_count, served_in
        )

        # A link contested, now or in the last pass: its outcome depends on other links. (A
        # link refused in the fast path is refused for its own size; any other refusal, or a
        # kept link, took the full placement, after which every outcome is decided again.)
        now_again = contested | set(placement.kept)
        again = self._again | now_again
        decide_all = self._all_again or full
        statuses: dict[Key, dict[str, Any]] = {}
        events: list[Event] = []
        timestamp = iso(now)
        decided = self._decided
        for link in links:
            key = link.key
            p = prepared[key]
            status = status_of(link)
            slug = primary.get(key)
            last = decided.get(key)
            if (
                last is not None
                and last.prepared is p
                and last.status is status
                and not last.pending
                and last.primary == slug
                and not p.moments
                and not decide_all
                and key not in again
            ):
                continue
            outcome = outcome_of(
                p.link,
                slug,
                ownership,
                waiting,
                refused,
                placement,
                targets,
                status=status,
                settings=settings,
                now=now,
            )
            wanted = desired_status(status, outcome, generation=link.generation, now=timestamp)
            if wanted is not None:
                statuses[key] = wanted
            previous = current_reason(status)
            if previous != outcome.reason and not (previous is None and outcome.ready):
                holder = holder_of(p.link, slug, ownership)
                events.extend(events_of(p.link, outcome, holder, current))
            decided[key] = _Decided(p, status, slug, pending=wanted is not None)
        if len(decided) != len(current):  # links went
            for key in [key for key in decided if key not in current]:
                del decided[key]
        self._again = now_again
        self._all_again = full

        moments = [moment for p in special if p.allowed for moment in p.moments if moment > now]
        moments += [moment_of(hold.until) for hold in waiting.values()]
        return Plan(
            shards=shards,
            statuses=statuses,
            events=events,
            next_change=min(moments, default=None),
            depends_on=_ShardsOf(statuses, prepared, table, settings.shard_count),
            entries={shard_name(index): len(texts) for index, texts in placement.entries.items()},
            served=written,
        )

    def _forget_if_changed(
        self,
        links: Sequence[IndexedLink],
        settings: PlanConfig,
        policies: Sequence[Policy],
        labels: Mapping[str, Mapping[str, str]],
        referents: Referents,
    ) -> None:
        hosts = frozenset(
            link.link.host for link in links if link.link is not None and link.link.host
        )
        now = _Globals(settings, tuple(policies), labels, hosts)
        if now != self._globals:
            # What every link's preparation depends on changed (rare): prepare each again.
            self._prepared.clear()
            self._encoded.clear()
            self._all_again = True
        self._globals = now
        if referents != self._referents:
            for key, p in list(self._prepared.items()):
                if p.source.link is not None and p.source.link.target is not None:
                    del self._prepared[key]
            self._referents = referents

    def _prepare_all(
        self, links: Sequence[IndexedLink], referents: Referents, settings: PlanConfig
    ) -> tuple[dict[Key, _Prepared], list[_Prepared]]:
        """Each link's preparation, and those of the few that are refused, have a target or
        wait for a time (the rest need no more than their claims)."""
        assert self._globals is not None
        prepared = self._prepared
        special: list[_Prepared] = []
        for link in links:
            p = prepared.get(link.key)
            if p is None or p.source is not link:
                if p is not None and planned_part(p.source) == planned_part(link):
                    p.source = link  # the same link, its status come back: compare once
                else:
                    p = prepared[link.key] = _prepare(link, referents, self._globals, settings)
            if p.special:
                special.append(p)
        if len(prepared) != len(links):  # links went
            present = {link.key for link in links}
            for key in [key for key in prepared if key not in present]:
                del prepared[key]
        return prepared, special

    def _claims(
        self,
        links: Sequence[IndexedLink],
        prepared: Mapping[Key, _Prepared],
        status_of: StatusOf,
        settings: PlanConfig,
    ) -> tuple[list[Claim], dict[Key, str]]:
        """Every claim and every primary slug, generated codes chosen as `plan`'s
        `_claims` chooses them: oldest link first, a code grows while a chosen slug or an older
        link's code has it)."""
        claims: list[Claim] = []
        primary: dict[Key, str] = {}
        stable: list[tuple[_Prepared, str]] = []
        unstable: list[tuple[_Prepared, str | None]] = []
        for link in links:
            p = prepared[link.key]
            if not p.allowed or p.link.link is None:
                continue
            claims.extend(p.claims)
            spec = p.link.link
            if spec.slug is not None:
                primary[link.key] = spec.slug
                continue
            if not p.code:
                p.code = full_code(settings.slug_key, link.namespace, link.name)
            previous = status_of(link).get("slug")
            keep = previous if isinstance(previous, str) else None
            if p.generated_claim is not None and keep == p.generated_claim.slug:
                stable.append((p, keep))  # kept as it was (every code chosen is a prefix)
            elif keep and len(keep) >= DEFAULT_LENGTH and p.code.startswith(keep):
                stable.append((p, keep))
            else:
                unstable.append((p, keep))
        generated: list[Claim] = []
        for p, code in stable:
            generated.append(_generated_claim(p, code))
        if unstable:
            taken = {claim.key for claim in claims}
            first: dict[str, tuple[str, str, str]] = {}
            for claim in generated:
                order = _order(claim.link)
                if order < first.get(claim.key, _LAST):
                    first[claim.key] = order
            unstable.sort(key=lambda pair: _order(pair[0].link))
            for p, _keep in unstable:
                order, host = _order(p.link), p.link.link.host if p.link.link else ""
                chosen = p.code
                for length in range(DEFAULT_LENGTH, len(p.code) + 1):
                    prefix = p.code[:length]
                    key = routing_key(host, prefix)
                    if (
                        key not in taken
                        and first.get(key, _LAST) >= order
                        and reserved_as(prefix) is None
                    ):
                        chosen = prefix
                        break
                taken.add(routing_key(host, chosen))
                generated.append(_generated_claim(p, chosen))
        # In `plan`, generated claims follow the chosen ones, oldest link first: ownership sorts
        # them anyway, and nothing else depends on their order.
        for claim in generated:
            primary[claim.link.key] = claim.slug
        return [*claims, *generated], primary

    def _encode(
        self,
        entries: Mapping[int, list[str]],
        releases: Iterable[Release],
        shard_count: int,
        served_in: Mapping[int, list[tuple[str, Key]]],
    ) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Key]]]:
        """Each shard's data, encoded again only when its entries or holds changed; and, for those
        encoded again whose routing keys are known, whom each key is served for."""
        held: dict[int, list[Release]] = {}
        for hold in releases:
            held.setdefault(shard_index(hold.key, shard_count), []).append(hold)
        shards: dict[str, dict[str, str]] = {}
        served: dict[str, dict[str, Key]] = {}
        encoded: dict[int, tuple[list[str], tuple[Release, ...], dict[str, str]]] = {}
        for index in sorted(set(entries) | set(held)):
            own, holds_here = entries.get(index, []), tuple(held.get(index, ()))
            if not own and not holds_here:
                continue
            last = self._encoded.get(index)
            if last is not None and last[1] == holds_here and last[0] == own:
                data = last[2]
            else:
                data = encode_entries(own, holds_here)
                if index in served_in or not own:
                    served[shard_name(index)] = dict(served_in.get(index, ()))
            encoded[index] = (own, holds_here, data)
            shards[shard_name(index)] = data
        self._encoded = encoded
        return shards, served


def _order(link: IndexedLink) -> tuple[str, str, str]:
    return (link.created, link.namespace, link.name)


def _generated_claim(p: _Prepared, code: str) -> Claim:
    claim = p.generated_claim
    if claim is None or claim.slug != code:
        assert p.link.link is not None
        claim = p.generated_claim = Claim(p.link, p.link.link, code)
        p.every_claim = (*p.claims, claim)
    return claim


def _prepare(
    link: IndexedLink, referents: Referents, inputs: _Globals, settings: PlanConfig
) -> _Prepared:
    """`plan`'s `_resolve_targets`, `_refuse_loops`, `_policy_violations` and listing, for one
    link."""
    # The planner's own copy carries no status (status is looked up by key, always current):
    # it would otherwise keep each status it was prepared with alive beside the current one.
    planned = IndexedLink(  # not `replace`: at 100,000 links its generality costs seconds
        link.namespace,
        link.name,
        link.uid,
        link.created,
        link.generation,
        link.link,
        link.error,
        _NO_STATUS,
        link.changed,
        link.owner,
    )
    p = _Prepared(source=link, link=planned)
    labels = inputs.labels.get(link.namespace, {})
    spec = link.link
    if spec is not None and spec.target is not None:
        why = target_violation(
            spec, namespace=link.namespace, labels=labels, policies=inputs.policies
        )
        if why is not None:
            p.target_refused = p.refused = why
        else:
            try:
                url = resolve(spec.target, namespace=link.namespace, referents=referents)
                resolved = replace(spec, url=url)
                if resolved.utm:
                    resolved.with_utm_applied()
            except Unresolved as unresolved:
                p.unresolved = (unresolved.reason, unresolved.message)
            except InvalidLink as error:
                message = f"targetRef: with the UTM tags added, {error}"
                p.unresolved = (Reason.TARGET_UNRESOLVABLE, message)
            else:
                p.resolved = url
                p.link = replace(p.link, link=resolved)
    if p.link.link is not None:
        spec = p.link.link
        own = replace(spec, url="") if p.resolved is not None else spec
        why = loop_back(own.destinations, base_url=settings.base_url, hosts=inputs.hosts)
        if why is not None:
            p.link = replace(p.link, link=None, error=f"spec: {why}")
        elif own is not spec and (
            why := loop_back((spec.url,), base_url=settings.base_url, hosts=inputs.hosts)
        ):
            p.resolved = None
            p.unresolved = (Reason.TARGET_UNRESOLVABLE, f"targetRef: {why}")
            p.link = replace(p.link, link=own)
    spec = p.link.link
    if spec is not None and inputs.policies:
        why = violation(spec, namespace=link.namespace, labels=labels, policies=inputs.policies)
        if why is not None:
            p.refused = why
    if spec is not None and p.allowed:
        p.listed = listed(spec, namespace=link.namespace, labels=labels, policies=inputs.policies)
        p.claims = p.every_claim = tuple(Claim(p.link, spec, slug) for slug in spec.slugs)
        p.generated = spec.slug is None
        p.moments = tuple(m for m in (spec.active_from, spec.expires_at) if m is not None)
    p.special = bool(
        p.refused or p.target_refused or p.unresolved or p.resolved is not None or p.moments
    )
    return p


def _ownership(
    claims: Sequence[Claim],
    status_of: StatusOf,
    served: Mapping[str, Key],
    held: Mapping[str, Release],
) -> tuple[Ownership, set[Key]]:
    """`resolve_ownership` of `claims`, deciding only the keys claimed more than once or held;
    and the links that claim those keys (their outcomes depend on other links)."""
    owners: dict[str, Claim] = {}
    crowded: dict[str, list[Claim]] = {}
    for claim in claims:
        first = owners.setdefault(claim.key, claim)
        if first is not claim:
            crowded.setdefault(claim.key, [first]).append(claim)
    for key in held:
        if key in owners and key not in crowded:
            crowded[key] = [owners[key]]
    losers: dict[tuple[str, str, str], Key] = {}
    contested: set[Key] = set()
    reserved = {key: (hold.namespace, hold.name) for key, hold in held.items()}
    for key, group in crowded.items():
        decided = resolve_ownership(group, status_of=status_of, served=served, reserved=reserved)
        if key in decided.owners:
            owners[key] = decided.owners[key]
        else:
            del owners[key]
        losers.update(decided.losers)
        contested.update(claim.link.key for claim in group)
    # Holders named by a hold may come back: their outcome is theirs to decide each pass too.
    contested.update(reserved.values())
    return Ownership(owners=owners, losers=losers), contested


def _place_all_fit(
    links: Sequence[IndexedLink],
    prepared: Mapping[Key, _Prepared],
    owners: Mapping[str, Claim],
    *,
    served: Mapping[str, Key],
    waiting: Iterable[Release],
    settings: PlanConfig,
) -> tuple[Placement, dict[int, list[tuple[str, Key]]]] | None:
    """`place`'s answer when every shard's entries fit under the budget and no served link is
    over the per-link limit (then order does not matter: everything is placed), with the routing
    keys each shard serves and for whom; else None."""
    limit = link_limit(settings.shard_budget)
    shard_count = settings.shard_count
    result = Placement()
    entries = result.entries
    served_in: dict[int, list[tuple[str, Key]]] = {}
    served_links: set[Key] | None = None
    for link in links:
        p = prepared[link.key]
        if p.unresolved is not None or not p.every_claim:
            continue
        routed = p.every_claim
        for claim in routed:
            if owners.get(claim.key) is not claim:  # lost one: place those it owns
                routed = tuple(c for c in routed if owners.get(c.key) is c)
                break
        if routed is not p.placed_claims and routed != p.placed_claims:
            p.placed = tuple((shard_index(c.key, shard_count), p.entry(c), c.key) for c in routed)
            p.placed_bytes = sum(len(text) + 1 for _, text, _ in p.placed)
        p.placed_claims = routed
        if not routed:
            continue
        if p.placed_bytes > limit:
            if served_links is None:
                served_links = set(served.values())
            if link.key in served_links:
                return None  # kept at its last generation: `place` knows how
            names = sorted({shard_name(index) for index, _, _ in p.placed})
            total = p.placed_bytes
            why = Refusal(", ".join(names), total, limit, settings.shard_budget, too_large=True)
            for claim in routed:
                result.refused[(link.namespace, link.name, claim.slug)] = why
            continue
        for index, text, key in p.placed:
            if index in entries:
                entries[index].append(text)
                served_in[index].append((key, link.key))
            else:
                entries[index] = [text]
                served_in[index] = [(key, link.key)]
    base = base_sizes(waiting, shard_count)
    for index, texts in entries.items():
        size = (base.get(index, 0) or EMPTY_SHARD_BYTES) + sum(map(len, texts)) + len(texts) - 1
        if size > settings.shard_budget:
            return None
        result.sizes[index] = size
    for index in set(base) - set(entries):
        entries[index], result.sizes[index] = [], base[index]
    return result, served_in


def _holds(
    present: Mapping[Key, IndexedLink], table: TableState, *, now: float, grace_seconds: float
) -> dict[str, Release]:
    """`planning.holds`, with the links already by key."""
    timestamp = iso(now)
    held = {key: hold for key, hold in table.released.items() if hold.until > timestamp}
    if grace_seconds > 0:
        until = iso(now + grace_seconds)
        for key, owner in table.served.items():
            if owner not in present and key not in held:
                held[key] = Release(key=key, namespace=owner[0], name=owner[1], until=until)
    return held


class _ShardsOf(Mapping[Key, frozenset[str]]):
    """`Plan.depends_on`, worked out when first asked for: the executor asks only when a shard
    was refused, and finding where the table serves each link costs a look at every shard."""

    def __init__(
        self,
        statuses: Mapping[Key, object],
        prepared: Mapping[Key, _Prepared],
        table: TableState,
        shard_count: int,
    ) -> None:
        # The planner changes its own preparations in the next pass: keep those needed now.
        own = {key: prepared[key] for key in statuses}
        self._arguments = (statuses, own, table, shard_count)
        self._found: dict[Key, frozenset[str]] | None = None

    def _worked_out(self) -> dict[Key, frozenset[str]]:
        if self._found is None:
            self._found = _shards_of(*self._arguments)
        return self._found

    def __getitem__(self, key: Key) -> frozenset[str]:
        return self._worked_out()[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._worked_out())

    def __len__(self) -> int:
        return len(self._worked_out())


def _shards_of(
    statuses: Mapping[Key, object],
    prepared: Mapping[Key, _Prepared],
    table: TableState,
    shard_count: int,
) -> dict[Key, frozenset[str]]:
    """`planning.shards_of` for the links with a status to write: their claims' shards and the
    shards the table serves them in."""
    if not statuses:
        return {}
    found: dict[Key, set[int]] = {key: set() for key in statuses}
    for key, indexes in found.items():
        indexes.update(shard_index(c.key, shard_count) for c in prepared[key].every_claim)
    for key, routing_keys in table.served_for(found).items():
        found[key].update(shard_index(routing_key, shard_count) for routing_key in routing_keys)
    return {key: frozenset(map(shard_name, indexes)) for key, indexes in found.items()}
