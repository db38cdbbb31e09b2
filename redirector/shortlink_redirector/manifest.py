"""Whether the served table is the whole table: the manifest's listing against what is served.

The operator writes every shard first and the manifest (`shortlink_core.table`) last, so a shard's
deletion or a garbled shard says nothing about the links it held: only the manifest does. The
`ShardLedger` keeps three facts per shard and decides from them, as plain data (the follower
applies its decisions to the table):

- a shard that exists and can be read is served as it is, even when the manifest lists another
  digest for it: the watch delivers the operator's writes in order, so such a copy is newer than
  the manifest (or a hand edit the operator repairs within seconds), never older;
- a shard that is deleted or unreadable keeps its last good copy while the manifest lists it;
- a shard's links are dropped only when the shard is gone and the manifest no longer lists it;
- the table is complete when a manifest was read and every shard it lists is served with the
  listed digest. A redirector is not ready before its table was complete once.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class ShardLedger:
    #: The last manifest that could be read: shard name to digest; None before the first one.
    listed: dict[str, str] | None = None
    #: The digest of the copy of each shard being served (shards without routes included).
    served: dict[str, str] = field(default_factory=dict)
    #: The shards that exist in the cluster, as last seen: the digest of their data, or None
    #: when it cannot be read.
    present: dict[str, str | None] = field(default_factory=dict)

    def shard_loaded(self, name: str, digest: str) -> None:
        """Shard `name` is now served from a copy with `digest`."""
        self.served[name] = self.present[name] = digest

    def shard_unreadable(self, name: str) -> None:
        """Shard `name` exists but cannot be read: its last good copy (if any) stays served."""
        self.present[name] = None

    def shard_deleted(self, name: str) -> bool:
        """Shard `name` was deleted; True if its links go now (the manifest does not list it)."""
        self.present.pop(name, None)
        return self._drop_if_released([name]) == [name]

    def manifest_loaded(self, listing: Mapping[str, str]) -> list[str]:
        """A manifest was read; return the shards whose links go now (gone and not listed)."""
        self.listed = dict(listing)
        return self._drop_if_released(list(self.served))

    def relisted(self, names: Iterable[str]) -> list[str]:
        """A fresh listing holds exactly the shards `names`; return the shards whose links go.

        Call it after loading the listing's manifest and shards, so `listed` and `present` are
        the newest.
        """
        kept = set(names)
        self.present = {name: d for name, d in self.present.items() if name in kept}
        return self._drop_if_released(list(self.served))

    def mismatched(self, name: str) -> bool:
        """True if the manifest lists `name` with another digest than the copy being served."""
        return self.listed is not None and self.listed.get(name, self.served.get(name)) != (
            self.served.get(name)
        )

    @property
    def unconfirmed(self) -> list[str]:
        """The listed shards whose ConfigMap is absent, unreadable, or holds another copy."""
        listed = self.listed or {}
        return sorted(name for name, digest in listed.items() if self.present.get(name) != digest)

    @property
    def complete(self) -> bool:
        """True once a manifest was read and every shard it lists is served as listed."""
        return self.listed is not None and all(
            self.served.get(name) == digest for name, digest in self.listed.items()
        )

    def _drop_if_released(self, names: Iterable[str]) -> list[str]:
        listed = self.listed or {}
        dropped = [
            name
            for name in names
            if name in self.served and name not in self.present and name not in listed
        ]
        for name in dropped:
            del self.served[name]
        return dropped
