"""Who owns a slug: the ShortLinks that claim it and the holds kept for deleted owners.

A slug is looked up by its match key (`shortlink_core.matching`), so `Team_Docs` finds the link
that claims `team-docs`, exactly as a request for it would. Claims come from `shortlink_core.claims`
(spec slug, aliases, and the generated code in the status); holds from the routing table's
`released.json` (`shortlink_core.table.decode_released`). Pure: the caller fetches the objects.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shortlink_core.claims import Claim, claims_of
from shortlink_core.matching import match_key
from shortlink_core.table import Release, decode_released


@dataclass(frozen=True, slots=True)
class Owner:
    """A ShortLink that claims the slug; `serving` when its status says it is served there."""

    claim: Claim
    body: Mapping[str, Any]
    serving: bool

    @property
    def ready(self) -> Mapping[str, Any]:
        return ready_condition(self.body)


def ready_condition(body: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in (body.get("status") or {}).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return {}


def _key_parts(key: str) -> tuple[str, str]:
    host, _, matched = key.partition("/")
    return host, matched


def _on_host(claim_host: str, host: str | None) -> bool:
    """A link with no host is served on every host; `host` None asks about every host."""
    return host is None or claim_host in ("", host)


def owners(slug: str, links: Iterable[Mapping[str, Any]], *, host: str | None) -> list[Owner]:
    """Every claim on `slug`, the links whose status says they serve it first."""
    wanted = match_key(slug)
    found: list[Owner] = []
    for body in links:
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        status = body.get("status") or {}
        served = {status.get("slug"), *(status.get("aliases") or ())}
        for claim in claims_of(body, namespace=namespace):
            if match_key(claim.slug) == wanted and _on_host(claim.host, host):
                ready = ready_condition(body).get("status") == "True"
                found.append(Owner(claim, body, serving=ready and claim.slug in served))
    return sorted(found, key=lambda o: (not o.serving, o.claim.namespace, o.claim.name))


def holds(slug: str, shards: Iterable[Mapping[str, Any]], *, host: str | None) -> list[Release]:
    """The holds on `slug` in the routing-table ConfigMaps `shards` (as the API returns them)."""
    wanted = match_key(slug)
    found = []
    for shard in shards:
        for release in decode_released(shard.get("data") or {}):
            release_host, matched = _key_parts(release.key)
            if matched == wanted and _on_host(release_host, host):
                found.append(release)
    return sorted(found, key=lambda r: r.key)
