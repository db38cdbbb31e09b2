"""A ShortLink object as the operator indexes it: identity, parsed spec, and the status it has now.

The operator's own index (`link_index.LinkIndex`) holds one `IndexedLink` per ShortLink.
Everything the planner needs is in it, so a plan is computed from memory without a request to the
API server.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shortlink_core.link import Link, parse_link
from shortlink_core.validation import InvalidLink


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

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


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
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta.get("uid", ""),
        created=meta.get("creationTimestamp", ""),
        generation=int(meta.get("generation", 0)),
        link=link,
        error=error,
        status=dict(body.get("status") or {}),
    )
