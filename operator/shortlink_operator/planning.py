"""From every ShortLink to what the cluster should hold: the table shards and each link's status.

`plan` is a pure function of the links, the settings and the time, so the operator reaches the same
table from the same links whatever order it saw them in, and tests need no cluster.

What a link gets:
- an invalid spec: no route, `InvalidSpec`;
- its slug lost to another link: no route, `SlugConflict` naming the owner (aliases it won are
  still served);
- suspended: it keeps its slugs (un-suspending gets them back) but has no route, `Suspended`;
- before `activeFrom` or after `expiresAt`: routed (the redirector enforces the times to the
  second), `Scheduled` or `Expired`;
- otherwise routed and `Published`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shortlink_core.table import Route, split_into_shards
from shortlink_operator.conditions import Outcome, Reason, desired_status
from shortlink_operator.generated import choose_code, full_code
from shortlink_operator.links import IndexedLink
from shortlink_operator.ownership import Claim, Ownership, StatusOf, resolve_ownership


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    shard_count: int
    slug_key: bytes = b"shortlink"


@dataclass(frozen=True, slots=True)
class Plan:
    #: Every shard that should exist, by ConfigMap name, with its `data`.
    shards: dict[str, dict[str, str]]
    #: The status to write, for each link whose status must change.
    statuses: dict[tuple[str, str], dict[str, Any]]
    #: The next time (Unix seconds) at which an outcome changes by itself, if any.
    next_change: float | None


def plan(
    links: Iterable[IndexedLink],
    *,
    settings: Settings,
    now: float,
    status_of: StatusOf = lambda link: link.status,
) -> Plan:
    links = list(links)
    claims, primary = _claims(links, settings=settings, status_of=status_of)
    ownership = resolve_ownership(claims, status_of=status_of)
    routes = [
        Route(
            slug=claim.slug,
            link=claim.spec.with_utm_applied(),
            namespace=claim.link.namespace,
            name=claim.link.name,
        )
        for claim in ownership.owners.values()
        if not claim.spec.suspended
    ]
    timestamp = _iso(now)
    statuses: dict[tuple[str, str], dict[str, Any]] = {}
    for link in links:
        outcome = outcome_of(link, primary.get(link.key), ownership, settings=settings, now=now)
        status = desired_status(status_of(link), outcome, generation=link.generation, now=timestamp)
        if status is not None:
            statuses[link.key] = status
    moments = [
        moment
        for link in links
        if link.link is not None
        for moment in (link.link.active_from, link.link.expires_at)
        if moment is not None and moment > now
    ]
    return Plan(
        shards=split_into_shards(routes, settings.shard_count),
        statuses=statuses,
        next_change=min(moments, default=None),
    )


def outcome_of(
    link: IndexedLink, slug: str | None, ownership: Ownership, *, settings: Settings, now: float
) -> Outcome:
    """What happened to `link`, whose primary slug (chosen or generated) is `slug`."""
    spec = link.link
    if spec is None or slug is None:
        return Outcome(False, Reason.INVALID_SPEC, link.error or "the spec is invalid")
    lost = {
        claimed: ownership.losers[(link.namespace, link.name, claimed)].link
        for claimed in (slug, *spec.aliases)
        if (link.namespace, link.name, claimed) in ownership.losers
    }
    if slug in lost:
        owner = lost[slug]
        return Outcome(
            False,
            Reason.SLUG_CONFLICT,
            f"slug {slug!r} is already served by ShortLink {owner.namespace}/{owner.name}; "
            "choose another slug",
        )
    short_url = _short_url(settings.base_url, spec.host, slug)
    aliases = tuple(sorted(a for a in spec.aliases if a not in lost))
    notes = "".join(
        f"; alias {alias!r} is served by ShortLink {owner.namespace}/{owner.name}"
        for alias, owner in sorted(lost.items())
    )

    def outcome(ready: bool, reason: str, message: str) -> Outcome:
        return Outcome(
            ready, reason, message + notes, slug=slug, short_url=short_url, aliases=aliases
        )

    if spec.suspended:
        return outcome(False, Reason.SUSPENDED, "suspended (spec.suspended is true)")
    if spec.active_from is not None and now < spec.active_from:
        return outcome(
            False, Reason.SCHEDULED, f"will be served at {short_url} from {_iso(spec.active_from)}"
        )
    if spec.expires_at is not None and now >= spec.expires_at:
        after = f"sent to {spec.expired_url}" if spec.expired_url else "answered 410 Gone"
        return outcome(
            False, Reason.EXPIRED, f"expired at {_iso(spec.expires_at)}; visitors are {after}"
        )
    also = f" (also as {', '.join(aliases)})" if aliases else ""
    return outcome(True, Reason.PUBLISHED, f"served at {short_url}{also}")


def _claims(
    links: list[IndexedLink], *, settings: Settings, status_of: StatusOf
) -> tuple[list[Claim], dict[tuple[str, str], str]]:
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


def _short_url(base_url: str, host: str, slug: str) -> str:
    if not host:
        return f"{base_url}/{slug}"
    return f"{urlsplit(base_url).scheme}://{host}/{slug}"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
