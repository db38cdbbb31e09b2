"""The routing table: how served links are split into shards and encoded in ConfigMaps.

The operator is the only writer and the redirectors are the readers. The table is cut into a fixed
number of shards by a stable hash of the routing key (host and match key), so one link change
rewrites one shard and no ConfigMap approaches the API server's 1 MiB object limit. Each shard is a
ConfigMap whose data holds a format version and the routes as compact JSON with sorted keys: the
same links always encode to the same bytes, so the operator can tell "unchanged" by comparing
strings. Each entry has the shape of a ShortLink spec, so the reader re-validates it with
`parse_link`, plus the namespace and name of the ShortLink it comes from and, when known, the
time it last changed (`changed`, Unix seconds: 21 bytes an entry, where an RFC 3339 string
took 33; shown on inspect pages).

The table describes itself (format 2): one more ConfigMap, the manifest (`MANIFEST_NAME`), lists
every shard the table has and the digest of its data (`shard_digest`: SHA-256 of the data as
compact, sorted JSON). The operator writes the manifest last, after every shard it lists, so a
reader knows whether it holds the whole table (every listed shard, with the listed digest), keeps
a shard the manifest still lists when that shard is deleted or unreadable, and drops a shard's
links only once the manifest no longer lists it and the shard is gone. A shard the reader sees
before the manifest that lists it (or lists its new digest) is newer than the manifest, not wrong.
"""

import hashlib
import json
import sys
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from shortlink_core.api import MANIFEST_NAME, TABLE_NAME_PREFIX
from shortlink_core.link import Link, link_to_entry, parse_link
from shortlink_core.matching import routing_key
from shortlink_core.validation import InvalidLink

#: Bumped whenever a reader built for the old encoding would misread the new one. Format 2 added
#: the manifest: a deleted shard no longer means its links are gone (a format-1 reader would drop
#: them), only a manifest that stops listing it does. Format 3 routes suspended links too
#: (`"suspended": true`), so that their page can name whom to ask; a format-2 reader would
#: redirect them. The optional `listed`, `owner` and `changed` fields came with it; a reader that
#: ignored them would misread nothing.
FORMAT_VERSION: Final = "3"
#: Formats this reader reads: a format-2 table holds no suspended link and reads the same, so
#: redirectors of this build can be rolled out before the operator that writes format 3.
READABLE_FORMATS: Final = frozenset({"2", FORMAT_VERSION})
FORMAT_KEY: Final = "format"
ROUTES_KEY: Final = "routes.json"
#: The manifest's key holding `{shard name: digest}` as compact JSON with sorted keys.
SHARDS_KEY: Final = "shards.json"
#: Routing keys held for a deleted owner during the grace period (read by the operator only;
#: readers of routes ignore every key but FORMAT_KEY and ROUTES_KEY).
RELEASED_KEY: Final = "released.json"


class TableFormatError(ValueError):
    """A shard this reader cannot decode: a format it does not know, or bytes that are not JSON."""


@dataclass(frozen=True, slots=True)
class Route:
    """One served path: the slug (or alias), the link behind it, and the ShortLink it comes from."""

    slug: str
    link: Link
    namespace: str
    name: str
    #: When the ShortLink last changed (Unix seconds, from its managedFields); 0 when unknown.
    changed: int = 0

    @property
    def key(self) -> str:
        return routing_key(self.link.host, self.slug)


@dataclass(frozen=True, slots=True)
class DecodedShard:
    """The routes of one shard, and a message for each entry that was refused."""

    routes: tuple[Route, ...]
    rejected: tuple[str, ...]


def shard_index(key: str, shard_count: int) -> int:
    """The shard a routing key belongs to; stable across processes, hosts and Python versions."""
    return zlib.crc32(key.encode()) % shard_count


def shard_name(index: int) -> str:
    """The name of the ConfigMap holding shard `index`."""
    return f"{TABLE_NAME_PREFIX}-{index:03d}"


@dataclass(frozen=True, slots=True)
class Release:
    """A routing key whose owner was deleted, held for that owner until `until` (grace period)."""

    key: str
    namespace: str
    name: str
    #: RFC 3339 UTC time, `YYYY-MM-DDTHH:MM:SSZ`; equal-format strings compare in time order.
    until: str


def route_entry(route: Route) -> str:
    """The bytes `route` takes in its shard's routes.json, key included, comma excluded.

    A shard is `{` + its entries sorted by routing key, joined by `,` + `}`: exactly what
    `json.dumps(..., sort_keys=True)` writes, so the operator can size a shard before encoding it
    and cache each entry between passes.
    """
    return f"{_compact(route.key)}:{_compact(_entry(route))}"


def _entry(route: Route) -> dict[str, Any]:
    """The JSON value of `route`'s entry in its shard."""
    entry = link_to_entry(route.link, slug=route.slug)
    entry |= {"namespace": route.namespace, "name": route.name}
    if route.changed:
        entry["changed"] = route.changed
    return entry


def encode_entries(entries: Iterable[str], released: Iterable[Release] = ()) -> dict[str, str]:
    """The ConfigMap `data` of a shard from `route_entry` strings (sorted here) and holds."""
    data = {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{" + ",".join(sorted(entries)) + "}"}
    holds = {r.key: {"namespace": r.namespace, "name": r.name, "until": r.until} for r in released}
    if holds:
        data[RELEASED_KEY] = _compact(holds)
    return data


def encode_shard(routes: Iterable[Route], released: Iterable[Release] = ()) -> dict[str, str]:
    """The ConfigMap `data` of a shard holding `routes` (deterministic: sorted, compact).

    `released` keys are kept in a key of their own that readers of routes ignore: it is the
    operator's durable memory of a grace period, so a restart during one does not forget it.
    """
    return encode_entries(map(route_entry, routes), released)


def decode_released(data: Mapping[str, str]) -> tuple[Release, ...]:
    """The grace-period holds in a shard's data; a malformed key holds nothing (never raises)."""
    try:
        holds = json.loads(data.get(RELEASED_KEY, "{}"))
        return tuple(
            Release(key=key, namespace=h["namespace"], name=h["name"], until=h["until"])
            for key, h in holds.items()
            if all(isinstance(h.get(k), str) for k in ("namespace", "name", "until"))
        )
    except (ValueError, AttributeError):
        return ()


def shard_digest(data: Mapping[str, str]) -> str:
    """The digest the manifest lists for a shard: SHA-256 (hex) of its data as compact JSON."""
    return hashlib.sha256(_compact(dict(data)).encode()).hexdigest()


def encode_manifest(shards: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The manifest's ConfigMap `data` for a table made of exactly `shards` (name to data)."""
    return encode_listing({name: shard_digest(data) for name, data in shards.items()})


def encode_listing(listing: Mapping[str, str]) -> dict[str, str]:
    """The manifest's ConfigMap `data` from each shard's name and `shard_digest`."""
    return {FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: _compact(dict(listing))}


def decode_manifest(data: Mapping[str, str]) -> dict[str, str]:
    """The shards a manifest lists, name to digest; `TableFormatError` if it cannot be read."""
    _check_format(data, what="manifest")
    try:
        listing = json.loads(data.get(SHARDS_KEY, ""))
    except ValueError as error:
        raise TableFormatError(f"{SHARDS_KEY} is not valid JSON: {error}") from None
    if not isinstance(listing, dict) or not all(
        isinstance(name, str) and name != MANIFEST_NAME and isinstance(digest, str)
        for name, digest in listing.items()
    ):
        raise TableFormatError(f"{SHARDS_KEY} must map shard names to digests")
    return listing


def _check_format(data: Mapping[str, str], *, what: str) -> None:
    version = data.get(FORMAT_KEY)
    if version not in READABLE_FORMATS:
        readable = " and ".join(map(repr, sorted(READABLE_FORMATS)))
        raise TableFormatError(
            f"routing table {what} format {version!r} is not supported (this build reads "
            f"{readable})"
        )


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def split_into_shards(routes: Iterable[Route], shard_count: int) -> dict[str, dict[str, str]]:
    """Encode `routes` as shards, by ConfigMap name; shards with no routes are left out."""
    buckets: dict[int, list[Route]] = {}
    for route in routes:
        buckets.setdefault(shard_index(route.key, shard_count), []).append(route)
    return {shard_name(index): encode_shard(bucket) for index, bucket in sorted(buckets.items())}


def decode_shard(data: Mapping[str, str], known: Mapping[str, Route] | None = None) -> DecodedShard:
    """Read a shard's ConfigMap `data`, re-validating every entry.

    Raises `TableFormatError` for a shard that cannot be read at all. A single bad entry (say, a
    hand-edited URL) is refused on its own and reported, and the rest of the shard is still served.

    `known` are routes validated before (by routing key, say the shard's last version): an entry
    that is exactly what one of them encodes to is that route again, not validated a second time.
    A change to one link rewrites its whole shard, and validating every URL of it again cost
    about 35 ms of a reader's CPU at 1,500 links a shard.
    """
    _check_format(data, what="shard")
    try:
        entries = json.loads(data.get(ROUTES_KEY, "{}"))
    except ValueError as error:
        raise TableFormatError(f"{ROUTES_KEY} is not valid JSON: {error}") from None
    if not isinstance(entries, dict):
        raise TableFormatError(f"{ROUTES_KEY} must be a JSON object")
    routes: list[Route] = []
    rejected: list[str] = []
    for key, entry in entries.items():
        seen = known.get(key) if known else None
        if seen is not None and entry == _entry(seen):
            routes.append(seen)
            continue
        try:
            routes.append(_decode_route(key, entry))
        except InvalidLink as error:
            rejected.append(f"{key!r}: {error}")
    return DecodedShard(routes=tuple(routes), rejected=tuple(rejected))


def _decode_route(key: str, entry: object) -> Route:
    if not isinstance(entry, dict):
        raise InvalidLink("entry must be a JSON object")
    namespace, name = entry.get("namespace"), entry.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise InvalidLink("entry needs string fields namespace and name")
    link = parse_link(entry)
    if link.target is not None:
        raise InvalidLink("entries hold the resolved url, never a targetRef")
    if link.slug is None:
        raise InvalidLink("entry needs a slug")
    if link.aliases or link.utm:
        raise InvalidLink("entries hold one slug each, with UTM tags already applied")
    changed = entry.get("changed", 0)
    if not isinstance(changed, int) or isinstance(changed, bool) or changed < 0:
        raise InvalidLink("changed must be a whole, non-negative number of Unix seconds")
    # Namespaces repeat across a table and a name is most often its slug: share those strings
    # rather than keep a copy per entry (10 MB at 100,000 links).
    namespace = sys.intern(namespace)
    name = link.slug if name == link.slug else name
    route = Route(slug=link.slug, link=link, namespace=namespace, name=name, changed=changed)
    if route.key != key:
        raise InvalidLink(f"entry is filed under {key!r} but its host and slug say {route.key!r}")
    if entry.get("url") != link.url:
        raise InvalidLink("url is not in the normalised form the operator writes")
    return route
