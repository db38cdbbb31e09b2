"""What the routing table in the cluster says now: who serves each slug, which slugs are held.

The table is the operator's durable memory. Ownership prefers the link the table already serves
(so a restart never hands a slug to someone else), and the grace-period holds written next to the
routes survive a restart during the grace period. Reading is cached per shard, because at 100,000
links a pass must not parse every shard again when none changed.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from shortlink_core.table import (
    ROUTES_KEY,
    Release,
    TableFormatError,
    decode_released,
    decode_shard,
    route_entry,
)

Key = tuple[str, str]


def _no_entry(key: str) -> str | None:
    return None


def _owners_in(served: Mapping[str, Key]) -> dict[Key, list[str]]:
    owners: dict[Key, list[str]] = {}
    for routing_key, owner in served.items():
        owners.setdefault(owner, []).append(routing_key)
    return owners


@dataclass(frozen=True, slots=True)
class TableState:
    #: The (namespace, name) of the link each routing key is served for.
    served: Mapping[str, Key] = field(default_factory=dict)
    #: Routing keys held for a deleted owner, until their grace period ends.
    released: Mapping[str, Release] = field(default_factory=dict)
    #: The entry (as `route_entry` writes it) served under a routing key, if it is a valid one:
    #: what a link whose new generation does not fit keeps serving.
    entry: Callable[[str], str | None] = _no_entry
    #: The routing keys served for each of the given links (those served at all).
    served_by: Callable[[Iterable[Key]], dict[Key, list[str]]] | None = None

    def served_for(self, links: Iterable[Key]) -> dict[Key, list[str]]:
        """The routing keys the table serves for each of `links` that it serves at all."""
        if self.served_by is not None:
            return self.served_by(links)
        owners = _owners_in(self.served)
        return {link: owners[link] for link in links if link in owners}


class TableReader:
    """Turns shard data into a `TableState`, re-parsing only the shards whose data changed."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[Mapping[str, str], dict[str, Key], tuple[Release, ...]]] = {}
        # Each shard's routing keys by the link they are served for, made when first asked for.
        self._owners: dict[str, tuple[dict[str, Key], dict[Key, list[str]]]] = {}
        # Entries decoded only for the shards a kept link needs (rare), by shard name.
        self._entries: dict[str, tuple[Mapping[str, str], dict[str, str]]] = {}

    def written(self, name: str, data: Mapping[str, str], served: Mapping[str, Key]) -> None:
        """Shard `name` now holds `data` (as written), whose routing keys are served for
        `served`: what reading it would find, without decoding it."""
        self._parsed[name] = (data, dict(served), decode_released(data))

    def read(self, shards: Mapping[str, Mapping[str, str]]) -> TableState:
        served: dict[str, Key] = {}
        released: dict[str, Release] = {}
        for name in list(self._parsed):
            if name not in shards:
                del self._parsed[name]
                self._entries.pop(name, None)
                self._owners.pop(name, None)
        for name, data in shards.items():
            cached = self._parsed.get(name)
            if cached is None or (cached[0] is not data and cached[0] != data):
                cached = (data, _served_in(data), decode_released(data))
                self._parsed[name] = cached
            served.update(cached[1])
            released.update((hold.key, hold) for hold in cached[2])
        return TableState(
            served=served, released=released, entry=self._entry, served_by=self._served_by
        )

    def _served_by(self, links: Iterable[Key]) -> dict[Key, list[str]]:
        wanted = set(links)
        found: dict[Key, list[str]] = {}
        for name, (_, served, _) in self._parsed.items():
            cached = self._owners.get(name)
            if cached is None or cached[0] is not served:
                cached = self._owners[name] = (served, _owners_in(served))
            owners = cached[1]
            if len(wanted) < len(owners):
                hits = ((link, owners[link]) for link in wanted if link in owners)
            else:
                hits = ((link, keys) for link, keys in owners.items() if link in wanted)
            for link, keys in hits:
                found.setdefault(link, []).extend(keys)
        return found

    def _entry(self, key: str) -> str | None:
        for name, (data, served, _) in self._parsed.items():
            if key not in served:
                continue
            cached = self._entries.get(name)
            if cached is None or cached[0] is not data:
                try:
                    routes = decode_shard(data).routes  # re-validated: a tampered entry is dropped
                except TableFormatError:
                    routes = ()
                cached = self._entries[name] = (data, {r.key: route_entry(r) for r in routes})
            return cached[1].get(key)
        return None


def _served_in(data: Mapping[str, str]) -> dict[str, Key]:
    """Slug to (namespace, name) of one shard; bad entries serve nobody (and get rewritten)."""
    try:
        entries = json.loads(data.get(ROUTES_KEY, "{}"))
    except ValueError:
        return {}
    if not isinstance(entries, dict):
        return {}
    return {
        slug: (entry["namespace"], entry["name"])
        for slug, entry in entries.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("namespace"), str)
        and isinstance(entry.get("name"), str)
    }
