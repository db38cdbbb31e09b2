"""Who owns a slug that several ShortLinks claim.

The established owner keeps its slug: a link whose status already says it serves the slug wins
over newcomers. Among equals, the oldest claim (by creation time) wins, then the lowest
namespace/name. Only the claims and their recorded status decide, never the order in which the
operator saw them, so two operators, or one operator before and after a restart, reach the same
answer (the status it relies on is stored in the cluster, not in the operator's memory).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shortlink_operator.links import IndexedLink

StatusOf = Callable[[IndexedLink], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Ownership:
    #: The owner of every claimed slug.
    owners: dict[str, IndexedLink]
    #: Every link that lost its slug, with the link that owns it.
    losers: dict[tuple[str, str], IndexedLink]


def resolve_ownership(
    claims: Iterable[IndexedLink], *, status_of: StatusOf = lambda link: link.status
) -> Ownership:
    """Split valid links into slug owners and losers; links without a valid spec are ignored."""

    def seniority(claim: IndexedLink) -> tuple[bool, str, str, str]:
        assert claim.link is not None
        established = status_of(claim).get("slug") == claim.link.slug
        return (not established, claim.created, claim.namespace, claim.name)

    owners: dict[str, IndexedLink] = {}
    losers: dict[tuple[str, str], IndexedLink] = {}
    for claim in sorted((c for c in claims if c.link is not None), key=seniority):
        assert claim.link is not None  # filtered above; narrows the type for mypy
        owner = owners.setdefault(claim.link.slug, claim)
        if owner is not claim:
            losers[claim.key] = owner
    return Ownership(owners=owners, losers=losers)
