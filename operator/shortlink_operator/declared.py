"""Links declared on the objects themselves (pure).

An Ingress, HTTPRoute or Service annotated `shortlink.dev/slug: grafana` (and optionally
`shortlink.dev/aliases: graf, dash` and `shortlink.dev/description`) gets a ShortLink without
anyone writing one: `declarations` says which ShortLinks to create, change and delete so that
each annotated object has exactly one, named `<kind>-<object name>` in the object's namespace,
with `spec.targetRef` pointing back at it and the object as its controller owner (so the garbage
collector deletes the link with its object). It is labelled managed-by the operator, which is how
the operator knows a link is its own to change or delete.

The link is then an ordinary ShortLink: the same ownership, policy and conflict rules apply
(`planning`), and the Warning Events about it are posted on the annotated object too. Removing
the annotation deletes the link; editing the link's declared fields by hand is undone.

What cannot be done is reported on the annotated object as a Warning Event: annotations that do
not make a valid link (`InvalidAnnotation`), or a ShortLink of that name that the object does not
own (`LinkNameTaken`, nothing is overwritten).
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from shortlink_core.api import API_VERSION, KIND, MANAGED_BY, MANAGED_BY_LABEL
from shortlink_core.errors import InvalidLink
from shortlink_core.link import TARGET_KINDS, Link, parse_link
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.referents import Declaration, Referent
from shortlink_operator.resolution import Referents

MAX_NAME: Final = 253
#: The version of each kind an ownerReference names.
OWNER_VERSION: Final = {"Ingress": "v1", "HTTPRoute": "v1", "Service": "v1"}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """An annotated object, as an Event's involvedObject or an ownerReference names it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A Warning Event to post on an annotated object."""

    about: ObjectRef
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Write:
    """A declared ShortLink to create (`name` None: `body` is the object) or to bring back to its
    declaration (`body` is a merge patch of ShortLink `name`)."""

    about: ObjectRef
    name: str | None
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Declarations:
    writes: list[Write] = field(default_factory=list)
    #: (namespace, name, uid) of owned links whose object no longer declares them.
    delete: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def api_version(kind: str) -> str:
    group = TARGET_KINDS[kind]
    return f"{group}/{OWNER_VERSION[kind]}" if group else OWNER_VERSION[kind]


def link_name(kind: str, name: str) -> str:
    """The declared ShortLink's name: `<kind>-<name>`, shortened with a digest when too long."""
    full = f"{kind.lower()}-{name}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{full[: MAX_NAME - 13].rstrip('-.')}-{digest}"


def declared_spec(kind: str, name: str, declaration: Declaration) -> dict[str, Any]:
    """The ShortLink spec the annotations declare (before validation)."""
    spec: dict[str, Any] = {"slug": declaration.slug, "targetRef": {"kind": kind, "name": name}}
    aliases = [alias.strip() for alias in declaration.aliases.split(",") if alias.strip()]
    if aliases:
        spec["aliases"] = aliases
    if declaration.description:
        spec["description"] = declaration.description
    return spec


def declarations(referents: Referents, links: Iterable[IndexedLink]) -> Declarations:
    """What to create, change and delete so the declared links match the annotations."""
    result = Declarations()
    objects: Sequence[tuple[str, Mapping[tuple[str, str], Referent]]] = (
        ("Ingress", referents.ingresses),
        ("HTTPRoute", referents.httproutes),
        ("Service", referents.services),
    )
    links = list(links)
    declaring = any(r.declaration for _, found in objects for r in found.values())
    if not declaring and not any(link.owner for link in links):
        return result  # the common case: a pass over 100,000 links builds nothing more
    existing = {link.key: link for link in links}
    for kind, found in objects:
        for (namespace, name), referent in sorted(found.items()):
            ref = ObjectRef(api_version(kind), kind, namespace, name, referent.uid)
            current = existing.get((namespace, link_name(kind, name)))
            if referent.declaration is None:
                if current is not None and _owned_by(current, ref):
                    result.delete.append((namespace, current.name, current.uid))
                continue
            _declare(ref, referent.declaration, current, result)
    return result


def _declare(
    ref: ObjectRef, declaration: Declaration, current: IndexedLink | None, result: Declarations
) -> None:
    spec = declared_spec(ref.kind, ref.name, declaration)
    name = link_name(ref.kind, ref.name)
    try:
        wanted = parse_link(spec, name=name)
    except InvalidLink as error:
        message = f"the shortlink.dev annotations do not make a valid link: {error}"
        result.problems.append(Problem(ref, "InvalidAnnotation", message))
        return
    metadata = {"labels": {MANAGED_BY_LABEL: MANAGED_BY}, "ownerReferences": [_owner(ref)]}
    if current is None:
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": ref.namespace, **metadata},
            "spec": spec,
        }
        result.writes.append(Write(ref, None, body))
        return
    if current.owner is None or (current.owner.kind, current.owner.name) != (ref.kind, ref.name):
        message = (
            f"ShortLink {ref.namespace}/{name} exists and was not declared by this {ref.kind}: "
            "it is left as it is, and the link the shortlink.dev annotations declare is not "
            "created; rename or delete that ShortLink"
        )
        result.problems.append(Problem(ref, "LinkNameTaken", message))
        return
    if current.owner.uid != ref.uid or not _same(current.link, wanted):
        # Every declared field, with null for those not declared (a merge patch keeps the rest).
        patch_spec: dict[str, Any] = {"url": None, "aliases": None, "description": None, **spec}
        patch_spec["targetRef"] = {
            "namespace": None,
            "path": None,
            "port": None,
            **spec["targetRef"],
        }
        result.writes.append(Write(ref, name, {"metadata": metadata, "spec": patch_spec}))


def _same(current: Link | None, wanted: Link) -> bool:
    if current is None:
        return False
    declared = ("slug", "aliases", "description", "target", "url")
    return all(getattr(current, item) == getattr(wanted, item) for item in declared)


def _owned_by(link: IndexedLink, ref: ObjectRef) -> bool:
    owner = link.owner
    return owner is not None and (owner.kind, owner.name) == (ref.kind, ref.name)


def _owner(ref: ObjectRef) -> dict[str, Any]:
    # No blockOwnerDeletion: setting it needs permission on the owner's finalizers, and the link
    # must never hold its object up.
    return {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "name": ref.name,
        "uid": ref.uid,
        "controller": True,
    }
