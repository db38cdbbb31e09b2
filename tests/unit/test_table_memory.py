"""A loaded table keeps one copy of what its links share (the redirector's memory per link)."""

import json

from shortlink_core.link import Link
from shortlink_core.table import Route, decode_shard, encode_shard
from shortlink_redirector.metrics import LinkCounters
from shortlink_redirector.table import EMPTY_TABLE


def _loaded(*routes: Route) -> dict[str, Route]:
    # Through JSON text, as a redirector reads a shard: every string is a fresh object.
    data = json.loads(json.dumps(encode_shard(routes)))
    return {route.slug: route for route in decode_shard(data).routes}


def test_links_answering_alike_share_their_prepared_header_bytes() -> None:
    routes = [
        Route(
            slug=f"docs-{i}",
            link=Link(url=f"https://example.com/{i}", slug=f"docs-{i}"),
            namespace="team",
            name=f"docs-{i}",
        )
        for i in range(3)
    ]
    permanent = Route(
        slug="old",
        link=Link(url="https://example.com/old", slug="old", redirect_code=301),
        namespace="team",
        name="old",
    )
    table = EMPTY_TABLE.with_shards(
        {"s": (_loaded(*routes, permanent).values(), 1)}, LinkCounters(), max_age=60
    )
    first, second, third = (table.fast[f"/docs-{i}"] for i in range(3))
    assert first.tail is second.tail is third.tail
    assert table.fast["/old"].tail is not first.tail  # a 301 is cacheable: other headers
    assert first.header_block.startswith(b"location: https://example.com/0\r\n")
    assert first.headers()[0] == (b"location", b"https://example.com/0")


def test_decoded_entries_share_namespace_and_a_name_that_is_the_slug() -> None:
    loaded = _loaded(
        Route(
            slug="a", link=Link(url="https://example.com/a", slug="a"), namespace="team", name="a"
        ),
        Route(
            slug="b",
            link=Link(url="https://example.com/b", slug="b"),
            namespace="team",
            name="other",
        ),
    )
    assert loaded["a"].namespace is loaded["b"].namespace
    assert loaded["a"].name is loaded["a"].slug
    assert loaded["b"].name == "other"
