"""Which routing keys a ShortLink object claims, read from the object as the API returns it.

A link claims its slug (or, when the slug is left out, its name) and each alias, on its host; a
generated code is known only from the status the operator wrote. Keys are the redirector's and
the operator's own (`shortlink_core.matching.routing_key`), so `team-docs`, `team_docs` and
`Team.Docs` are one claim here exactly as they are when a request is routed. The lint and the
kubectl plugin's `find` both ask this module, so they cannot disagree with the operator.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shortlink_core.link import Link, parse_link
from shortlink_core.matching import routing_key
from shortlink_core.validation import InvalidLink

Role = Literal["slug", "alias", "generated"]


@dataclass(frozen=True, slots=True)
class Claim:
    """ShortLink `namespace`/`name` asks for `slug` (as its slug, an alias or a code) on `host`."""

    namespace: str
    name: str
    slug: str
    host: str
    role: Role

    @property
    def key(self) -> str:
        return routing_key(self.host, self.slug)

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.name}"


def spec_link(body: Mapping[str, Any]) -> Link:
    """The object's spec parsed by the operator's own rules; raises `InvalidLink`."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidLink("spec is required")
    return parse_link(spec, name=(body.get("metadata") or {}).get("name"))


def claims_of(body: Mapping[str, Any], *, namespace: str, with_status: bool = True) -> list[Claim]:
    """Every claim of a ShortLink object; an invalid spec claims only what its status says."""
    name = str((body.get("metadata") or {}).get("name", ""))
    claims: list[Claim] = []
    host = ""
    try:
        link = spec_link(body)
    except InvalidLink:
        spec = body.get("spec")
        raw_host = spec.get("host") if isinstance(spec, Mapping) else None
        host = raw_host if isinstance(raw_host, str) else ""
    else:
        host = link.host
        if link.slug:
            claims.append(Claim(namespace, name, link.slug, host, "slug"))
        claims += [Claim(namespace, name, alias, host, "alias") for alias in link.aliases]
    status = body.get("status") if with_status else None
    if isinstance(status, Mapping):
        known = {claim.slug for claim in claims}
        served = status.get("slug")
        if isinstance(served, str) and served and served not in known:
            claims.append(Claim(namespace, name, served, host, "generated"))
        for alias in status.get("aliases") or ():
            if isinstance(alias, str) and alias not in known and alias != served:
                claims.append(Claim(namespace, name, alias, host, "alias"))
    return claims
