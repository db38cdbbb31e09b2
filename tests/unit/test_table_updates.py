"""A table changed shard by shard is the table built from scratch, whatever the changes.

`RoutingTable.with_shards` updates the fast index, the hosts and the suggestion index only for
the routing keys whose route changed, and a shard's decoding takes again the routes it already
validated (`decode_shard(..., known=...)`); both must give exactly what a full build and a full
decoding give, over random sequences of shard changes: links added, removed, moved between
hosts, made non-uniform, given a host that shadows a host-less link, and shards emptied.
"""

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shortlink_core.link import Link
from shortlink_core.table import Route, decode_shard, encode_shard
from shortlink_redirector.metrics import LinkCounters
from shortlink_redirector.table import EMPTY_TABLE, RoutingTable

SHARDS = ("shard-a", "shard-b", "shard-c")

links = st.builds(
    lambda slug, host, target, permanent, timed: Route(
        slug=slug,
        link=Link(
            url=f"https://example.com/{target}",
            slug=slug,
            host=host,
            redirect_code=301 if permanent else 302,
            expires_at=4_102_444_800.0 if timed else None,  # not uniform: no fast answer
        ),
        namespace="team",
        name=f"{slug}-{host or 'any'}",
    ),
    slug=st.sampled_from(["docs", "do-cs", "wiki", "plan", "api", "x"]),
    host=st.sampled_from(["", "", "a.example", "b.example"]),
    target=st.integers(0, 3),
    permanent=st.booleans(),
    timed=st.booleans(),
)
# One change: a shard now holds these routes (each routing key in its own shard, as the operator
# places them; at most one route per key).
changes = st.tuples(st.sampled_from(SHARDS), st.lists(links, max_size=8, unique_by=lambda r: r.key))


def _shard_of(route: Route) -> str:
    return SHARDS[zlib.crc32(route.key.encode()) % len(SHARDS)]


def _decoded(table: RoutingTable, shard: str, routes: list[Route]) -> list[Route]:
    """The shard as a redirector reads it, taking again the routes it already serves."""
    data = encode_shard(routes)
    known = decode_shard(data, known=table.served_in(shard))
    assert known == decode_shard(data)  # taking routes again changes nothing
    return list(known.routes)


@settings(max_examples=300, deadline=None)
@given(st.lists(changes, min_size=1, max_size=12))
def test_a_table_changed_shard_by_shard_equals_the_table_built_from_scratch(
    steps: list[tuple[str, list[Route]]],
) -> None:
    counters = LinkCounters()
    table, contents = EMPTY_TABLE, {}
    for shard, generated in steps:
        routes = [route for route in generated if _shard_of(route) == shard]
        contents[shard] = _decoded(table, shard, routes)
        table = table.with_shards({shard: (contents[shard], 1)}, counters, max_age=60)
        fresh = EMPTY_TABLE.with_shards(
            {name: (held, 1) for name, held in contents.items()}, LinkCounters(), max_age=60
        )
        scratch = RoutingTable.build(dict(fresh.routes), fresh.shards, fresh.sizes)
        assert table.routes == scratch.routes
        assert table.shards == scratch.shards
        assert table.fast == scratch.fast
        assert table.hosted == scratch.hosted
        assert table.index == scratch.index


def test_an_unchanged_route_keeps_its_prepared_answer() -> None:
    route = Route(
        slug="docs",
        link=Link(url="https://example.com/", slug="docs"),
        namespace="team",
        name="docs",
    )
    other = Route(
        slug="wiki",
        link=Link(url="https://example.com/w", slug="wiki"),
        namespace="team",
        name="wiki",
    )
    counters = LinkCounters()
    first = EMPTY_TABLE.with_shards({"s": ([route], 1)}, counters, max_age=60)
    data = encode_shard([route, other])
    second = first.with_shards(
        {"s": (decode_shard(data, known=first.served_in("s")).routes, 2)}, counters, max_age=60
    )
    assert second.routes["/docs"] is first.routes["/docs"]
    assert second.index.forward == ["/docs", "/wiki"]
