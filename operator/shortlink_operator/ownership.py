"""Who owns a slug that several ShortLinks claim.

A link claims its slug and each of its aliases, on its host; two claims collide when their routing
keys (host and match key, see `shortlink_core.matching`) are equal. The established owner keeps a
slug: the link the routing table already serves under the key, or whose status says it serves it,
wins over newcomers. A key held for a deleted owner during the grace period (`reserved`) goes to
that owner if it is back, and to nobody otherwise. Among equals, the oldest link (by creation time)
wins, then the lowest namespace/name. Only the claims, the table and the recorded status decide,
never the order in which the operator saw them, so two operators, or one operator before and after
a restart, reach the same answer (everything it relies on is stored in the cluster).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shortlink_core.link import Link
from shortlink_core.matching import routing_key
from shortlink_operator.link_index import IndexedLink

StatusOf = Callable[[IndexedLink], Mapping[str, Any]]
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    """`link` asks to be served at `slug` (its slug, an alias, or its generated code)."""

    link: IndexedLink
    #: The link's parsed spec (`link.link`, known to be valid).
    spec: Link
    slug: str
    #: The routing key (`routing_key(spec.host, slug)`), computed once: a pass at 100,000 links
    #: looks a claim's key up several times, and folding the slug each time was a tenth of it.
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", routing_key(self.spec.host, self.slug))


@dataclass(frozen=True, slots=True)
class Ownership:
    #: The winning claim for every claimed routing key.
    owners: dict[str, Claim]
    #: Every claim that lost, keyed by (namespace, name, slug), with the (namespace, name) of the
    #: link that holds the key.
    losers: dict[tuple[str, str, str], Key]


def served_slugs(status: Mapping[str, Any]) -> set[str]:
    """The slugs a link's status says it is served at."""
    slugs = {status["slug"]} if status.get("slug") else set()
    return slugs | set(status.get("aliases") or ())


def resolve_ownership(
    claims: Iterable[Claim],
    *,
    status_of: StatusOf = lambda link: link.status,
    served: Mapping[str, Key] | None = None,
    reserved: Mapping[str, Key] | None = None,
) -> Ownership:
    """`served` is whom the routing table serves each key for now; `reserved` the keys held for a
    deleted owner during the grace period."""
    served = served or {}
    reserved = reserved or {}

    def seniority(claim: Claim) -> tuple[bool, str, str, str]:
        link = claim.link
        established = (
            served.get(claim.key) == link.key
            or reserved.get(claim.key) == link.key
            or claim.slug in served_slugs(status_of(link))
        )
        return (not established, link.created, link.namespace, link.name)

    owners: dict[str, Claim] = {}
    losers: dict[tuple[str, str, str], Key] = {}
    for claim in sorted(claims, key=seniority):
        where = (claim.link.namespace, claim.link.name, claim.slug)
        holder = reserved.get(claim.key)
        if holder is not None and holder != claim.link.key and claim.key not in owners:
            losers[where] = holder  # held for its deleted owner, who is not back (yet)
            continue
        owner = owners.setdefault(claim.key, claim)
        if owner is not claim:
            losers[where] = owner.link.key
    return Ownership(owners=owners, losers=losers)
