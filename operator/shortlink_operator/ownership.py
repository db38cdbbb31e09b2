"""Who owns a slug that several ShortLinks claim.

The established owner keeps its slug: a link that the routing table already serves under the slug,
or whose status says it serves it, wins over newcomers. A slug held for a deleted owner during the
grace period (`reserved`) goes to that owner if it is back, and to nobody otherwise. Among equals,
the oldest claim (by creation time) wins, then the lowest namespace/name. Only the claims, the
table and the recorded status decide, never the order in which the operator saw them, so two
operators, or one operator before and after a restart, reach the same answer (everything it relies
on is stored in the cluster, not in the operator's memory).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shortlink_operator.links import IndexedLink

StatusOf = Callable[[IndexedLink], Mapping[str, Any]]
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Ownership:
    #: The owner of every claimed slug.
    owners: dict[str, IndexedLink]
    #: Every link that lost its slug, with the (namespace, name) of the link that holds it.
    losers: dict[Key, Key]


def resolve_ownership(
    claims: Iterable[IndexedLink],
    *,
    status_of: StatusOf = lambda link: link.status,
    served: Mapping[str, Key] | None = None,
    reserved: Mapping[str, Key] | None = None,
) -> Ownership:
    """Split valid links into slug owners and losers; links without a valid spec are ignored.

    `served` is who the routing table serves each slug for now; `reserved` the slugs held for a
    deleted owner during the grace period.
    """
    served = served or {}
    reserved = reserved or {}

    def seniority(claim: IndexedLink) -> tuple[bool, str, str, str]:
        assert claim.link is not None
        slug = claim.link.slug
        established = (
            served.get(slug) == claim.key
            or reserved.get(slug) == claim.key
            or status_of(claim).get("slug") == slug
        )
        return (not established, claim.created, claim.namespace, claim.name)

    owners: dict[str, IndexedLink] = {}
    losers: dict[Key, Key] = {}
    for claim in sorted((c for c in claims if c.link is not None), key=seniority):
        assert claim.link is not None  # filtered above; narrows the type for mypy
        slug = claim.link.slug
        holder = reserved.get(slug)
        if holder is not None and holder != claim.key and slug not in owners:
            losers[claim.key] = holder  # held for its deleted owner, who is not back (yet)
            continue
        owner = owners.setdefault(slug, claim)
        if owner is not claim:
            losers[claim.key] = owner.key
    return Ownership(owners=owners, losers=losers)
