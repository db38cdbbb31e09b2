"""From every ShortLink to what the cluster should hold: the table shards and each link's status.

`plan` is a pure function of the links and the settings, so the operator reaches the same table
from the same links whatever order it saw them in, and tests need no cluster.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shortlink_core.table import Route, split_into_shards
from shortlink_operator.conditions import Outcome, Reason, desired_status
from shortlink_operator.links import IndexedLink
from shortlink_operator.ownership import StatusOf, resolve_ownership


@dataclass(frozen=True, slots=True)
class Plan:
    #: Every shard that should exist, by ConfigMap name, with its `data`.
    shards: dict[str, dict[str, str]]
    #: The status to write, for each link whose status must change.
    statuses: dict[tuple[str, str], dict[str, Any]]


def outcome_of(link: IndexedLink, *, owner: IndexedLink | None, base_url: str) -> Outcome:
    """What happened to `link`, given the owner of its slug (None when it is invalid)."""
    if link.link is None:
        return Outcome(False, Reason.INVALID_SPEC, link.error or "the spec is invalid")
    slug = link.link.slug
    if owner is not link:
        who = "unknown" if owner is None else f"{owner.namespace}/{owner.name}"
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
) -> Plan:
    """The table and statuses for `links`; `status_of` gives each link's current status."""
    links = list(links)
    ownership = resolve_ownership(links, status_of=status_of)
    routes = [
        Route(
            slug=slug, url=o.link.url, code=o.link.redirect_code, namespace=o.namespace, name=o.name
        )
        for slug, o in ownership.owners.items()
        if o.link is not None
    ]
    statuses: dict[tuple[str, str], dict[str, Any]] = {}
    for link in links:
        owner = ownership.owners.get(link.link.slug) if link.link is not None else None
        outcome = outcome_of(link, owner=owner, base_url=base_url)
        status = desired_status(status_of(link), outcome, generation=link.generation, now=now)
        if status is not None:
            statuses[link.key] = status
    return Plan(shards=split_into_shards(routes, shard_count), statuses=statuses)
