"""The routing-table encoding: sharding, determinism, versioning and re-validation on read."""

import json

import pytest

from shortlink_core.link import Link, Rule, Split
from shortlink_core.table import (
    FORMAT_KEY,
    ROUTES_KEY,
    Route,
    TableFormatError,
    decode_shard,
    encode_shard,
    shard_index,
    shard_name,
    split_into_shards,
)


def route(slug: str, url: str = "https://example.com/", code: int = 302, **fields: object) -> Route:
    link = Link(url=url, slug=slug, redirect_code=code, **fields)  # type: ignore[arg-type]
    return Route(slug=slug, link=link, namespace="team", name=f"link-{slug}")


def test_encoding_round_trips() -> None:
    routes = (route("a"), route("b", "https://example.org/x?y=1", 301))
    decoded = decode_shard(encode_shard(routes))
    assert sorted(decoded.routes, key=lambda r: r.slug) == list(routes)
    assert decoded.rejected == ()


def test_encoding_is_deterministic_whatever_the_order() -> None:
    routes = [route(s) for s in "abcdef"]
    assert encode_shard(routes) == encode_shard(reversed(routes))


def test_shard_assignment_is_stable_and_in_range() -> None:
    # Golden values: a different hash would move every link to another shard on upgrade.
    assert (shard_index("/docs", 64), shard_index("/teamdocs", 64)) == (35, 28)
    assert all(0 <= shard_index(f"s{i}", 7) < 7 for i in range(200))
    assert shard_name(5) == "shortlink-routes-005"


def test_split_puts_each_slug_in_its_shard_and_leaves_out_empty_shards() -> None:
    routes = [route(f"s{i}") for i in range(50)]
    shards = split_into_shards(routes, 8)
    assert 1 <= len(shards) <= 8
    seen = {}
    for name, data in shards.items():
        for decoded in decode_shard(data).routes:
            assert shard_name(shard_index(decoded.key, 8)) == name
            seen[decoded.slug] = decoded
    assert sorted(seen) == sorted(r.slug for r in routes)


def test_unknown_format_version_is_refused_as_a_whole() -> None:
    data = encode_shard([route("a")]) | {FORMAT_KEY: "2"}
    with pytest.raises(TableFormatError, match="format '2' is not supported"):
        decode_shard(data)


def test_garbage_is_refused_as_a_whole() -> None:
    with pytest.raises(TableFormatError, match="not valid JSON"):
        decode_shard({FORMAT_KEY: "1", ROUTES_KEY: "{nope"})


def test_bad_entries_are_refused_one_by_one_and_the_rest_is_served() -> None:
    entries = json.loads(encode_shard([route("good")])[ROUTES_KEY])
    base = {"namespace": "x", "name": "y"}
    entries["/evil"] = {**base, "slug": "evil", "url": "javascript:alert(1)"}
    entries["/healthz"] = {**base, "slug": "healthz", "url": "https://e.com/"}
    entries["/odd"] = {**base, "slug": "odd", "url": "https://e.com/", "redirectCode": 200}
    entries["/misfiled"] = {**base, "slug": "other", "url": "https://e.com/"}
    entries["/raw"] = {**base, "slug": "raw", "url": "https://E.com/ä"}
    decoded = decode_shard({FORMAT_KEY: "1", ROUTES_KEY: json.dumps(entries)})
    assert [r.slug for r in decoded.routes] == ["good"]
    assert len(decoded.rejected) == 5


def test_every_link_field_survives_the_table() -> None:
    rich = route(
        "rich",
        "https://example.com/{path}",
        308,
        host="go.example.com",
        match="Exact",
        path_suffix="Reject",
        forward_query=False,
        active_from=1_900_000_000.0,
        expires_at=1_900_000_600.0,
        expired_url="https://example.com/old",
        description="everything",
        rules=(
            Rule(url="https://m.example.com/", devices=frozenset({"Mobile"}), languages=("de",)),
            Rule(split=(Split(1, "https://a.example/"), Split(3, "https://b.example/"))),
        ),
    )
    assert decode_shard(encode_shard([rich])).routes == (rich,)
