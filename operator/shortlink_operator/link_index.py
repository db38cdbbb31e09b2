"""The operator's memory of the cluster, kept by the operator itself rather than by kopf.

Each ShortLink is held as an `IndexedLink`: identity, parsed spec and the status it has now.
Everything the planner needs is in it, so a plan is computed from memory without a request to the
API server.

Every ShortLink, every ShortLinkPolicy, the labels of every namespace, and every object a
`targetRef` may name (Ingresses, HTTPRoutes, Services and the Gateways of HTTPRoutes, each read
into the few fields `referents` keeps) live in `ObjectIndex`es fed by the operator's kopf event
handlers (`handlers`) and seeded by one paginated LIST each at start-up (`seeding`), which says
when everything is known, so the first table is complete. The operator registers no kopf index
(`@kopf.index`) at all, and must not: while kopf fills one it gives every object being listed a
toggle that wakes every waiting worker (quadratic: minutes of CPU at 10,000 links), and objects of
kinds without an index keep their toggle, so with many links listed at start the operator never
became ready.

The LIST and the events race, so each object is kept at the newest resourceVersion seen, and a
deletion leaves a tombstone that an older listed copy cannot bring back. resourceVersions are
compared as integers: the API conventions call them opaque, but every etcd-backed API server hands
out increasing integers, and nothing here is lost if one day they do not compare (an object is
then refreshed by its next event).

Deleted means gone even when the watch missed the deletion: after a "410 Gone" kopf lists again
and yields only the objects that still exist, never a DELETED event for the others. So
`seeding.prune` lists names and resourceVersions again at every resync (the publisher's
`scheduler` says when), and as soon as a handler sees kopf listing again (`relisted`), and
`ObjectIndex.prune` forgets every object that a complete listing no longer has. Tombstones live
until the prune after the one that made them, so they cannot grow without bound.
"""

import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from shortlink_core.api import FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL
from shortlink_core.link import Link, parse_link
from shortlink_core.validation import InvalidLink
from shortlink_operator.policy import Policy, index_policy
from shortlink_operator.referents import (
    Gateway,
    HTTPRoute,
    Ingress,
    Service,
    read_gateway,
    read_httproute,
    read_ingress,
    read_service,
)

T = TypeVar("T")
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Owner:
    """The object that declared a ShortLink by annotation (its controller ownerReference), for a
    ShortLink the operator created (labelled managed-by the operator)."""

    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class IndexedLink:
    namespace: str
    name: str
    uid: str
    #: RFC 3339 creation time; equal strings sort in time order, which ownership relies on.
    created: str
    generation: int
    #: The parsed spec, or None when it is invalid (then `error` says why).
    link: Link | None
    error: str | None
    #: The object's `status` as last seen, to write only what changes.
    status: Mapping[str, Any]
    #: When someone last changed the object, in Unix seconds (see `last_change`); 0 when unknown.
    changed: int = 0
    #: The annotated object it was declared on, when the operator created it for one.
    owner: Owner | None = None
    #: (namespace, name), made once: a pass at 100,000 links asks for it a few million times.
    key: Key = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.namespace, self.name))


def index_link(body: Mapping[str, Any]) -> IndexedLink:
    """Read a ShortLink object (as kopf or the API returns it) into an `IndexedLink`."""
    meta = body["metadata"]
    link: Link | None = None
    error: str | None = None
    try:
        link = parse_link(body.get("spec") or {}, name=meta["name"])
    except InvalidLink as invalid:
        error = str(invalid)
    return IndexedLink(
        # Interned: a namespace, and a creation second, is shared by thousands of links.
        namespace=sys.intern(meta["namespace"]),
        name=meta["name"],
        uid=meta.get("uid", ""),
        created=sys.intern(meta.get("creationTimestamp", "")),
        generation=int(meta.get("generation", 0)),
        link=link,
        error=error,
        status=shared_status(body.get("status") or {}),
        changed=last_change(meta),
        owner=_owner(meta),
    )


#: Status strings this short are held once for every link (condition types, reasons, "True",
#: transition times, which thousands of links share to the second).
SHARED_STRING_LENGTH = 40


def shared_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a status with every key and every short string shared between links.

    Each watch event is parsed on its own, so every link's status held its own copy of the same
    keys ("observedGeneration", "lastTransitionTime", ...) and values: about 700 of its 1,400
    bytes. Only the long, unique strings (messages, URLs) stay the link's own.
    """
    return {_shared(key): _compact(value) for key, value in status.items()}


def _shared(text: str) -> str:
    return sys.intern(text) if len(text) <= SHARED_STRING_LENGTH else text


def _compact(value: Any) -> Any:
    if isinstance(value, str):
        return _shared(value)
    if isinstance(value, Mapping):
        return {
            _shared(key) if isinstance(key, str) else key: _compact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value


def last_change(meta: Mapping[str, Any]) -> int:
    """The newest time in `managedFields` of a write to the object itself: its spec, labels or
    annotations. Status writes (the status subresource) and the operator's own writes do not
    count: they are not a change by the link's owner."""
    times = [
        entry["time"]
        for entry in meta.get("managedFields") or ()
        if isinstance(entry, Mapping)
        and isinstance(entry.get("time"), str)
        and not entry.get("subresource")
        and entry.get("manager") != FIELD_MANAGER
    ]
    # RFC 3339 UTC times of one format ("...Z") sort in time order as strings.
    return _unix_seconds(max(times, default=""))


@functools.lru_cache(maxsize=4096)
def _unix_seconds(time: str) -> int:
    """`time` (RFC 3339, UTC, seconds) in Unix seconds, 0 if it is not one. Remembered: every
    status coming back is read again, thousands of links share a second, and `strptime` (which
    looks up the locale each time) was a tenth of reading a link."""
    try:
        moment = datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return 0
    return int(moment.timestamp())


def _owner(meta: Mapping[str, Any]) -> Owner | None:
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") is True:
            return Owner(
                api_version=str(ref.get("apiVersion", "")),
                kind=str(ref.get("kind", "")),
                name=str(ref.get("name", "")),
                uid=str(ref.get("uid", "")),
            )
    return None


def _version(body: Mapping[str, Any]) -> int:
    try:
        return int(body["metadata"].get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0


class ObjectIndex(Generic[T]):
    """Objects of one kind by (namespace, name), each read once with `read`."""

    def __init__(
        self,
        read: Callable[[Mapping[str, Any]], T],
        planned: Callable[[T], object] = lambda read: read,
        unchanged: Callable[[T, T], T] = lambda old, new: new,
    ) -> None:
        self._read = read
        #: The part of an object a plan depends on: a change elsewhere needs no pass.
        self._planned = planned
        #: What to keep of a new copy whose planned part is the old one's (the old parsed parts,
        #: so memory holds one copy of them and the planner sees them unchanged at once).
        self._unchanged = unchanged
        self._objects: dict[Key, T] = {}
        self._versions: dict[Key, int] = {}
        self._deleted: dict[Key, int] = {}
        #: Whether a watch event came since kopf's last listing: a listing (events without a
        #: type) after one means kopf is listing anew, after a watch gap.
        self._watching = False
        self._relisted = False
        #: The resourceVersion of the last complete listing merged; tombstones up to it expire at
        #: the next one.
        self._listed_at = 0
        #: True once a complete listing has been merged: every object that exists is known.
        self.complete = False

    def __len__(self) -> int:
        return len(self._objects)

    def apply(
        self, body: Mapping[str, Any], *, deleted: bool = False, listed: bool = False
    ) -> bool:
        """Take an object from a watch event (ADDED, MODIFIED, DELETED) or kopf's listing.

        True when a plan may differ because of it: an object came or went, or its planned part
        changed. A ShortLink's own status coming back from the operator's write is no such change.
        """
        meta = body["metadata"]
        key, version = (meta.get("namespace") or "", meta["name"]), _version(body)
        if listed:
            if self._watching:  # a listing after watch events: kopf is listing again
                self._watching, self._relisted = False, True
        else:
            self._watching = True
        if deleted:
            self._versions.pop(key, None)
            self._deleted[key] = max(version, self._deleted.get(key, 0))
            return self._objects.pop(key, None) is not None
        if version < self._versions.get(key, -1) or version <= self._deleted.get(key, -1):
            return False  # older than what is known
        if version and version == self._versions.get(key):
            # The copy known already (kopf lists at start-up what seeding just read): reading
            # 100,000 links twice was a good part of a restart.
            return False
        old, new = self._objects.get(key), self._read(body)
        changed = old is None or self._planned(old) != self._planned(new)
        if old is not None and not changed:
            new = self._unchanged(old, new)
        self._objects[key] = new
        self._versions[key] = version
        self._deleted.pop(key, None)
        return changed

    def seed(self, items: Iterable[Mapping[str, Any]], *, version: int | None = None) -> bool:
        """Merge a complete LIST: newer event copies and deletions win over its older copies.
        Given the listing's resourceVersion, what it does not hold is gone (`prune`).

        True when a plan may differ because of it.
        """
        items = list(items)
        changed = False
        for body in items:
            changed |= self.apply(body)
        if version is not None:
            present = {(b["metadata"].get("namespace") or "", b["metadata"]["name"]) for b in items}
            changed |= self.prune(present, version=version)
        self.complete = True
        return changed

    def prune(self, present: Iterable[Key], *, version: int) -> bool:
        """Forget the objects a complete listing at resourceVersion `version` does not hold.

        An object known at a version newer than the listing came after it (from a watch event)
        and stays. Each one forgotten leaves a tombstone at `version`, so an event copy from
        before the listing that is still on its way cannot bring it back. True if any went.
        """
        present = set(present)
        gone = [
            key
            for key, known in self._versions.items()
            if key not in present and (known <= version or version == 0)
        ]
        # Tombstones of the listing before this one have done their job: any copy older than
        # that listing arrived long ago.
        for key, deleted_at in list(self._deleted.items()):
            if deleted_at <= self._listed_at:
                del self._deleted[key]
        for key in gone:
            self._objects.pop(key, None)
            self._versions.pop(key, None)
            self._deleted[key] = version
        self._listed_at = max(self._listed_at, version)
        return bool(gone)

    def relisted(self) -> bool:
        """Whether kopf listed these objects again since the last call (after a watch gap)."""
        relisted, self._relisted = self._relisted, False
        return relisted

    @property
    def tombstones(self) -> int:
        return len(self._deleted)

    def items(self) -> list[tuple[Key, T]]:
        return list(self._objects.items())

    def snapshot(self) -> list[T]:
        return list(self._objects.values())


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    return dict(body["metadata"].get("labels") or {})


def planned_part(link: IndexedLink) -> object:
    """All of a link but its status, which the operator writes and reads through `_written`.

    The generation is in it although the parsed spec is too: statuses report it as observed.
    """
    return (
        link.uid,
        link.created,
        link.generation,
        link.link,
        link.error,
        link.changed,
        link.owner,
    )


def _with_old_spec(old: IndexedLink, new: IndexedLink) -> IndexedLink:
    """`new` (its status) holding `old`'s parsed spec and owner, equal to its own."""
    return replace(new, link=old.link, owner=old.owner)


class LinkIndex(ObjectIndex[IndexedLink]):
    def __init__(self) -> None:
        super().__init__(index_link, planned_part, _with_old_spec)


@dataclass
class Indexes:
    """Everything a pass plans from, kept current by the event handlers."""

    links: ObjectIndex[IndexedLink] = field(default_factory=LinkIndex)
    policies: ObjectIndex[Policy] = field(default_factory=lambda: ObjectIndex(index_policy))
    namespaces: ObjectIndex[dict[str, str]] = field(default_factory=lambda: ObjectIndex(_labels))
    ingresses: ObjectIndex[Ingress] = field(default_factory=lambda: ObjectIndex(read_ingress))
    httproutes: ObjectIndex[HTTPRoute] = field(default_factory=lambda: ObjectIndex(read_httproute))
    gateways: ObjectIndex[Gateway] = field(default_factory=lambda: ObjectIndex(read_gateway))
    services: ObjectIndex[Service] = field(default_factory=lambda: ObjectIndex(read_service))
    #: (kind, namespace, name) of every object the last snapshot's links (and their HTTPRoutes'
    #: Gateways) refer to: a change to any other object of those kinds needs no pass.
    referenced: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def complete(self) -> bool:
        return all(index.complete for _, index in self.every())

    def every(self) -> list[tuple[str, ObjectIndex[Any]]]:
        """Each index by the plural of its kind."""
        return [
            ("shortlinks", self.links),
            ("shortlinkpolicies", self.policies),
            ("namespaces", self.namespaces),
            ("ingresses", self.ingresses),
            ("httproutes", self.httproutes),
            ("gateways", self.gateways),
            ("services", self.services),
        ]
