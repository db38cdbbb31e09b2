"""The routing table: how served links are split into shards and encoded in ConfigMaps.

The operator is the only writer and the redirectors are the readers. The table is cut into a fixed
number of shards by a stable hash of the routing key, so one link change rewrites one shard and no
ConfigMap approaches the API server's 1 MiB object limit. Each shard is a ConfigMap whose data holds
a format version and the routes as compact JSON with sorted keys: the same links always encode to
the same bytes, so the operator can tell "unchanged" by comparing strings.
"""

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from shortlink_core.api import TABLE_NAME_PREFIX
from shortlink_core.link import REDIRECT_CODES
from shortlink_core.validation import InvalidLink, normalize_url, validate_slug

#: Bumped whenever a reader built for the old encoding would misread the new one.
FORMAT_VERSION: Final = "1"
FORMAT_KEY: Final = "format"
ROUTES_KEY: Final = "routes.json"
#: Slugs held for a deleted owner during the grace period (read by the operator only).
RELEASED_KEY: Final = "released.json"


class TableFormatError(ValueError):
    """A shard this reader cannot decode: a format it does not know, or bytes that are not JSON."""


@dataclass(frozen=True, slots=True)
class Route:
    """One served link: the slug, where it goes, and which ShortLink it comes from."""

    slug: str
    url: str
    code: int
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class DecodedShard:
    """The routes of one shard, and a message for each entry that was refused."""

    routes: tuple[Route, ...]
    rejected: tuple[str, ...]


def shard_index(slug: str, shard_count: int) -> int:
    """The shard a routing key belongs to; stable across processes, hosts and Python versions."""
    return zlib.crc32(slug.encode()) % shard_count


def shard_name(index: int) -> str:
    """The name of the ConfigMap holding shard `index`."""
    return f"{TABLE_NAME_PREFIX}-{index:03d}"


def route_entry(route: Route) -> str:
    """The bytes `route` takes in a shard's routes.json (without the separating comma).

    A shard is `{` + the entries of its routes sorted by slug, joined by `,` + `}`: exactly what
    `json.dumps(..., sort_keys=True)` writes, so the operator can size a shard before encoding it
    and cache each entry between passes.
    """
    value = {"url": route.url, "code": route.code, "namespace": route.namespace, "name": route.name}
    return _compact(route.slug) + ":" + _compact(value)


@dataclass(frozen=True, slots=True)
class Release:
    """A slug whose owner was deleted, held for that owner until `until` (the grace period)."""

    slug: str
    namespace: str
    name: str
    #: RFC 3339 UTC time, `YYYY-MM-DDTHH:MM:SSZ`; equal-format strings compare in time order.
    until: str


def encode_shard(routes: Iterable[Route], released: Iterable[Release] = ()) -> dict[str, str]:
    """The ConfigMap `data` of a shard holding `routes` (deterministic: sorted, compact).

    `released` slugs are kept in a key of their own that readers of routes ignore: it is the
    operator's durable memory of a grace period, so a restart during one does not forget it.
    """
    entries = sorted((route.slug, route_entry(route)) for route in routes)
    data = {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{" + ",".join(e for _, e in entries) + "}"}
    holds = {r.slug: {"namespace": r.namespace, "name": r.name, "until": r.until} for r in released}
    if holds:
        data[RELEASED_KEY] = _compact(holds)
    return data


def decode_released(data: Mapping[str, str]) -> tuple[Release, ...]:
    """The grace-period holds in a shard's data; a malformed key holds nothing (never raises)."""
    try:
        holds = json.loads(data.get(RELEASED_KEY, "{}"))
        return tuple(
            Release(slug=slug, namespace=h["namespace"], name=h["name"], until=h["until"])
            for slug, h in holds.items()
            if all(isinstance(h.get(k), str) for k in ("namespace", "name", "until"))
        )
    except (ValueError, AttributeError):
        return ()


def split_into_shards(routes: Iterable[Route], shard_count: int) -> dict[str, dict[str, str]]:
    """Encode `routes` as shards, by ConfigMap name; shards with no routes are left out."""
    buckets: dict[int, list[Route]] = {}
    for route in routes:
        buckets.setdefault(shard_index(route.slug, shard_count), []).append(route)
    return {shard_name(index): encode_shard(bucket) for index, bucket in sorted(buckets.items())}


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def decode_shard(data: Mapping[str, str]) -> DecodedShard:
    """Read a shard's ConfigMap `data`, re-validating every entry.

    Raises `TableFormatError` for a shard that cannot be read at all. A single bad entry (say, a
    hand-edited URL) is refused on its own and reported, and the rest of the shard is still served.
    """
    version = data.get(FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise TableFormatError(
            f"routing table format {version!r} is not supported (this build reads "
            f"{FORMAT_VERSION!r})"
        )
    try:
        entries = json.loads(data.get(ROUTES_KEY, "{}"))
    except ValueError as error:
        raise TableFormatError(f"{ROUTES_KEY} is not valid JSON: {error}") from None
    if not isinstance(entries, dict):
        raise TableFormatError(f"{ROUTES_KEY} must be a JSON object")
    routes: list[Route] = []
    rejected: list[str] = []
    for slug, entry in entries.items():
        try:
            routes.append(_decode_route(slug, entry))
        except InvalidLink as error:
            rejected.append(f"{slug!r}: {error}")
    return DecodedShard(routes=tuple(routes), rejected=tuple(rejected))


def _decode_route(slug: str, entry: object) -> Route:
    if not isinstance(entry, dict):
        raise InvalidLink("entry must be a JSON object")
    url, code = entry.get("url"), entry.get("code")
    namespace, name = entry.get("namespace"), entry.get("name")
    if not isinstance(url, str) or not isinstance(namespace, str) or not isinstance(name, str):
        raise InvalidLink("entry needs string fields url, namespace and name")
    if code not in REDIRECT_CODES or isinstance(code, bool):
        raise InvalidLink(f"redirect code {code!r} is not one of {REDIRECT_CODES}")
    if normalize_url(url) != url:
        raise InvalidLink("url is not in the normalised form the operator writes")
    return Route(slug=validate_slug(slug), url=url, code=code, namespace=namespace, name=name)
