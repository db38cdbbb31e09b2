"""Namespace policy: which slug prefixes (and hosts) the links of a namespace may use.

A cluster admin declares `ShortLinkPolicy` objects (cluster-scoped, see `crds/`). Each selects
namespaces, by name and/or by a label selector, and lists what links there may claim. A namespace
that no policy selects is unrestricted, so installing the CRD changes nothing until an admin writes
a policy. When several policies select a namespace, a link is allowed if any one of them allows it:
policies add permissions, they never take away what another grants.

A `spec.targetRef` to an object in another namespace is the one thing refused by default: it is
allowed only when a policy selecting the link's namespace lists the target's namespace in
`allowedTargetNamespaces` (so a team cannot point its links at another team's private Service,
and a namespace no policy selects may reference only its own objects).

Pure: policies and namespace labels come from the operator's indexes (`link_index`), and
`violation` returns a message or None, so the planner can treat a violating link as an outcome
(`PolicyViolation`), not an error.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shortlink_core.link import Link


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `matchExpressions` entry of a label selector."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        return False  # an operator we do not know selects nothing, rather than everything


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    #: Namespaces selected by name.
    namespaces: frozenset[str]
    #: The label selector's matchLabels and matchExpressions; None when there is no selector.
    match_labels: Mapping[str, str] | None
    match_expressions: tuple[Requirement, ...]
    #: A link's slug must start with one of these ("" allows every slug).
    slug_prefixes: tuple[str, ...]
    #: Hosts a link may name in `spec.host`; None places no restriction on hosts.
    hosts: frozenset[str] | None
    #: Whether links of the selected namespaces are listed on the front page by default.
    list_links: bool = False
    #: Namespaces whose objects the selected namespaces' links may name in `spec.targetRef`.
    target_namespaces: frozenset[str] = frozenset()

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if namespace in self.namespaces:
            return True
        if self.match_labels is None:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )

    def allows(self, slug: str, host: str | None) -> bool:
        if not any(slug.startswith(prefix) for prefix in self.slug_prefixes):
            return False
        return host is None or self.hosts is None or host in self.hosts


def index_policy(body: Mapping[str, Any]) -> Policy:
    """Read a ShortLinkPolicy object (as kopf or the API returns it) into a `Policy`."""
    spec = body.get("spec") or {}
    selector = spec.get("namespaceSelector")
    expressions = tuple(
        Requirement(
            key=str(item.get("key", "")),
            operator=str(item.get("operator", "")),
            values=frozenset(map(str, item.get("values") or ())),
        )
        for item in ((selector or {}).get("matchExpressions") or ())
    )
    hosts = spec.get("allowedHosts")
    return Policy(
        name=body["metadata"]["name"],
        namespaces=frozenset(map(str, spec.get("namespaces") or ())),
        match_labels=None if selector is None else dict(selector.get("matchLabels") or {}),
        match_expressions=expressions,
        slug_prefixes=tuple(map(str, spec.get("allowedSlugPrefixes") or ())),
        hosts=None if hosts is None else frozenset(map(str, hosts)),
        list_links=spec.get("listLinks") is True,
        target_namespaces=frozenset(map(str, spec.get("allowedTargetNamespaces") or ())),
    )


def listed(
    link: Link, *, namespace: str, labels: Mapping[str, str], policies: Iterable[Policy]
) -> bool:
    """Whether the front page lists `link`: its own `spec.listed` when set, else whether a
    policy selecting its namespace says `listLinks`. Nothing is listed unless someone chose so:
    a public short link can carry anything, and a list of them invites scraping."""
    if link.listed is not None:
        return link.listed
    return any(p.list_links and p.selects(namespace, labels) for p in policies)


def violation(
    link: Link,
    *,
    namespace: str,
    labels: Mapping[str, str],
    policies: Iterable[Policy],
) -> str | None:
    """Why `link` may not be served from `namespace`, naming the policies; None if it may.

    Every slug the link chooses (its slug and its aliases) must be allowed, on its host. A
    generated code is chosen by the operator, not the link, so it needs no prefix.
    """
    selecting = sorted((p for p in policies if p.selects(namespace, labels)), key=_by_name)
    if not selecting:
        return None
    host = link.host or None
    names = ", ".join(p.name for p in selecting)
    if host is not None and not any(p.hosts is None or host in p.hosts for p in selecting):
        return f"host {host!r} is not allowed in namespace {namespace!r} by ShortLinkPolicy {names}"
    for slug in link.slugs:
        if not any(p.allows(slug, host) for p in selecting):
            prefixes = _listing(sorted({prefix for p in selecting for prefix in p.slug_prefixes}))
            return (
                f"slug {slug!r} is not allowed in namespace {namespace!r} by ShortLinkPolicy "
                f"{names}: slugs there must start with {prefixes}"
            )
    return None


def target_violation(
    link: Link,
    *,
    namespace: str,
    labels: Mapping[str, str],
    policies: Iterable[Policy],
) -> str | None:
    """Why `link`'s targetRef may not name its object, or None if it may (or has none)."""
    target = link.target
    if target is None or target.namespace is None or target.namespace == namespace:
        return None
    selecting = [p for p in policies if p.selects(namespace, labels)]
    if any(target.namespace in p.target_namespaces for p in selecting):
        return None
    names = ", ".join(sorted(p.name for p in selecting)) or "(none selects it)"
    return (
        f"targetRef names {target.kind} {target.namespace}/{target.name} in another namespace: "
        f"links in namespace {namespace!r} may reference objects there only when a "
        f"ShortLinkPolicy selecting {namespace!r} lists {target.namespace!r} in "
        f"allowedTargetNamespaces (ShortLinkPolicy: {names})"
    )


def _by_name(policy: Policy) -> str:
    return policy.name


def _listing(prefixes: Sequence[str]) -> str:
    if not prefixes:
        return "nothing (the policy allows no slug prefix)"
    return " or ".join(repr(prefix) for prefix in prefixes)
