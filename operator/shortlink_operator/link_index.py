"""The operator's memory of every ShortLink, kept by the operator itself rather than by kopf.

kopf's own indices cost time quadratic in the number of objects while it first lists them (every
new object wakes every waiting worker): at 10,000 links a start took minutes of CPU. This index is
a dict fed by the ShortLink event handler, plus one paginated LIST at start-up that tells the
publisher when it knows every link, so its first table is complete.

The LIST and the events race, so each object is kept at the newest resourceVersion seen, and a
deletion leaves a tombstone that an older listed copy cannot bring back. resourceVersions are
compared as integers: the API conventions call them opaque, but every etcd-backed API server hands
out increasing integers, and nothing here is lost if one day they do not compare (a link is only
refreshed by its next event).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from shortlink_operator.links import IndexedLink, index_link

Key = tuple[str, str]


def _version(body: Mapping[str, Any]) -> int:
    try:
        return int(body["metadata"].get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0


class LinkIndex:
    def __init__(self) -> None:
        self._links: dict[Key, IndexedLink] = {}
        self._versions: dict[Key, int] = {}
        self._deleted: dict[Key, int] = {}
        #: True once a complete listing has been merged: every link that exists is known.
        self.complete = False

    def __len__(self) -> int:
        return len(self._links)

    def apply(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take an object from a watch event (ADDED, MODIFIED, DELETED or the initial listing)."""
        meta = body["metadata"]
        key, version = (meta["namespace"], meta["name"]), _version(body)
        if deleted:
            self._links.pop(key, None)
            self._versions.pop(key, None)
            self._deleted[key] = max(version, self._deleted.get(key, 0))
        elif version >= self._versions.get(key, -1) and version > self._deleted.get(key, -1):
            self._links[key] = index_link(body)
            self._versions[key] = version
            self._deleted.pop(key, None)

    def seed(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Merge a complete LIST: newer event copies and deletions win over its older copies."""
        for body in items:
            self.apply(body)
        self.complete = True

    def snapshot(self) -> list[IndexedLink]:
        return list(self._links.values())
