"""What the routing table in the cluster says now: who serves each slug, which slugs are held.

The table is the operator's durable memory. Ownership prefers the link the table already serves
(so a restart never hands a slug to someone else), and the grace-period holds written next to the
routes survive a restart during the grace period. Reading is cached per shard, because at 100,000
links a pass must not parse every shard again when none changed.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from shortlink_core.table import ROUTES_KEY, Release, decode_released

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TableState:
    #: The (namespace, name) of the link each routing key is served for.
    served: Mapping[str, Key] = field(default_factory=dict)
    #: Routing keys held for a deleted owner, until their grace period ends.
    released: Mapping[str, Release] = field(default_factory=dict)


class TableReader:
    """Turns shard data into a `TableState`, re-parsing only the shards whose data changed."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[Mapping[str, str], dict[str, Key], tuple[Release, ...]]] = {}

    def read(self, shards: Mapping[str, Mapping[str, str]]) -> TableState:
        served: dict[str, Key] = {}
        released: dict[str, Release] = {}
        for name in list(self._parsed):
            if name not in shards:
                del self._parsed[name]
        for name, data in shards.items():
            cached = self._parsed.get(name)
            if cached is None or (cached[0] is not data and cached[0] != data):
                cached = (data, _served_in(data), decode_released(data))
                self._parsed[name] = cached
            served.update(cached[1])
            released.update((hold.key, hold) for hold in cached[2])
        return TableState(served=served, released=released)


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
