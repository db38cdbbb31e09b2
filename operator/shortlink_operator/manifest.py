"""The manifest the operator writes last: every shard in the cluster and the digest of its data.

Redirectors decide from it whether their table is complete and when a shard's links may go (see
`shortlink_core.table`). The pass executor builds it from the shards as they are after a pass's
writes (a write that failed leaves its shard's old copy listed, which is what the cluster holds),
and writes it only when it changed. Digests are cached per shard: at 100,000 links a pass must not
hash every shard again when one changed.
"""

from collections.abc import Mapping

from shortlink_core.table import encode_listing, shard_digest


class ManifestEncoder:
    def __init__(self) -> None:
        self._digests: dict[str, tuple[Mapping[str, str], str]] = {}

    def encode(self, shards: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        """The manifest's ConfigMap `data` for a table made of exactly `shards` (name to data)."""
        listing: dict[str, str] = {}
        for name, data in shards.items():
            cached = self._digests.get(name)
            if cached is None or (cached[0] is not data and cached[0] != data):
                cached = self._digests[name] = (data, shard_digest(data))
            listing[name] = cached[1]
        for name in set(self._digests) - set(shards):
            del self._digests[name]
        return encode_listing(listing)
