"""Who owns a slug that several ShortLinks claim.

A link claims its slug and each of its aliases, on its host; two claims collide when their routing
keys (host and match key, see `shortlink_core.matching`) are equal. The established owner keeps a
slug: a claim that the link's status already records as served wins over newcomers. Among equals,
the oldest link (by creation time) wins, then the lowest namespace/name. Only the claims and their
recorded status decide, never the order in which the operator saw them, so two operators, or one
operator before and after a restart, reach the same answer (the status is stored in the cluster).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shortlink_core.link import Link
from shortlink_core.matching import routing_key
from shortlink_operator.links import IndexedLink

StatusOf = Callable[[IndexedLink], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Claim:
    """`link` asks to be served at `slug` (its slug, an alias, or its generated code)."""

    link: IndexedLink
    #: The link's parsed spec (`link.link`, known to be valid).
    spec: Link
    slug: str

    @property
    def key(self) -> str:
        return routing_key(self.spec.host, self.slug)


@dataclass(frozen=True, slots=True)
class Ownership:
    #: The winning claim for every claimed routing key.
    owners: dict[str, Claim]
    #: Every claim that lost, keyed by (namespace, name, slug), with the claim that won.
    losers: dict[tuple[str, str, str], Claim]


def served_slugs(status: Mapping[str, Any]) -> set[str]:
    """The slugs a link's status says it is served at."""
    slugs = {status["slug"]} if status.get("slug") else set()
    return slugs | set(status.get("aliases") or ())


def resolve_ownership(
    claims: Iterable[Claim], *, status_of: StatusOf = lambda link: link.status
) -> Ownership:
    def seniority(claim: Claim) -> tuple[bool, str, str, str]:
        established = claim.slug in served_slugs(status_of(claim.link))
        return (not established, claim.link.created, claim.link.namespace, claim.link.name)

    owners: dict[str, Claim] = {}
    losers: dict[tuple[str, str, str], Claim] = {}
    for claim in sorted(claims, key=seniority):
        owner = owners.setdefault(claim.key, claim)
        if owner is not claim:
            losers[(claim.link.namespace, claim.link.name, claim.slug)] = owner
    return Ownership(owners=owners, losers=losers)
