"""The table-change benchmark changes one link per step, and each manifest matches its table."""

from bench.swaps import SHARDS, successive_tables
from bench.tables import synthetic_routes

from shortlink_core.table import decode_manifest, decode_shard, shard_digest, split_into_shards


def test_each_change_rewrites_one_link_of_the_next_shard_and_a_manifest_that_lists_it() -> None:
    routes = synthetic_routes(500)
    table = split_into_shards(routes, SHARDS)
    variants = successive_tables(routes, 3)
    assert len({name for name, _, _ in variants}) == 3  # a different shard each time
    for name, data, manifest in variants:
        before = {r.key: r.link.url for r in decode_shard(table[name]).routes}
        after = {r.key: r.link.url for r in decode_shard(data).routes}
        assert before.keys() == after.keys()
        assert sum(before[key] != after[key] for key in before) == 1
        table[name] = data
        assert decode_manifest(manifest) == {n: shard_digest(d) for n, d in table.items()}
