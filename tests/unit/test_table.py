"""The routing-table encoding: sharding, determinism, versioning and re-validation on read."""

import json

import pytest

from shortlink_core.link import Link, Rule, Split
from shortlink_core.table import (
    FORMAT_KEY,
    FORMAT_VERSION,
    READABLE_FORMATS,
    ROUTES_KEY,
    SHARDS_KEY,
    Route,
    TableFormatError,
    decode_manifest,
    decode_shard,
    encode_manifest,
    encode_shard,
    shard_digest,
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
    data = encode_shard([route("a")]) | {FORMAT_KEY: "1"}
    with pytest.raises(TableFormatError, match="format '1' is not supported"):
        decode_shard(data)


def test_garbage_is_refused_as_a_whole() -> None:
    with pytest.raises(TableFormatError, match="not valid JSON"):
        decode_shard({FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{nope"})


def test_bad_entries_are_refused_one_by_one_and_the_rest_is_served() -> None:
    entries = json.loads(encode_shard([route("good")])[ROUTES_KEY])
    base = {"namespace": "x", "name": "y"}
    entries["/evil"] = {**base, "slug": "evil", "url": "javascript:alert(1)"}
    entries["/healthz"] = {**base, "slug": "healthz", "url": "https://e.com/"}
    entries["/odd"] = {**base, "slug": "odd", "url": "https://e.com/", "redirectCode": 200}
    entries["/misfiled"] = {**base, "slug": "other", "url": "https://e.com/"}
    entries["/raw"] = {**base, "slug": "raw", "url": "https://E.com/ä"}
    # Entries hold the URL a targetRef resolved to, never the reference itself.
    entries["/ref"] = {**base, "slug": "ref", "targetRef": {"kind": "Service", "name": "s"}}
    decoded = decode_shard({FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: json.dumps(entries)})
    assert [r.slug for r in decoded.routes] == ["good"]
    assert len(decoded.rejected) == 6
    assert any("never a targetRef" in why for why in decoded.rejected)


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


def test_the_manifest_lists_every_shard_with_the_digest_of_its_data() -> None:
    shards = split_into_shards([route(f"s{i}") for i in range(20)], 4)
    listing = decode_manifest(encode_manifest(shards))
    assert listing == {name: shard_digest(data) for name, data in shards.items()}
    assert sorted(listing) == sorted(shards)


def test_the_manifest_encoding_is_deterministic() -> None:
    shards = split_into_shards([route(f"s{i}") for i in range(20)], 4)
    backwards = dict(reversed(list(shards.items())))
    assert encode_manifest(shards) == encode_manifest(backwards)
    assert encode_manifest({})[SHARDS_KEY] == "{}"


def test_a_digest_changes_with_any_byte_of_a_shard_and_not_with_key_order() -> None:
    data = encode_shard([route("a")])
    assert shard_digest(data) == shard_digest(dict(reversed(list(data.items()))))
    assert shard_digest(data) != shard_digest(encode_shard([route("a", "https://example.com/x")]))
    assert shard_digest(data) != shard_digest(data | {"released.json": "{}"})
    # Golden value: a reader and a writer of another build must agree on it.
    assert shard_digest({FORMAT_KEY: "2", ROUTES_KEY: "{}"}) == (
        "4f0ba4c125bfa067b9076b80f748332d5d86223bdab9d4f9c0dda3a1e28a5a91"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({SHARDS_KEY: "{}"}, "format None is not supported"),
        ({FORMAT_KEY: "1", SHARDS_KEY: "{}"}, "format '1' is not supported"),
        ({FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: "{nope"}, "not valid JSON"),
        ({FORMAT_KEY: FORMAT_VERSION}, "not valid JSON"),
        ({FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: "[]"}, "must map shard names"),
        ({FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: '{"s": 1}'}, "must map shard names"),
        (
            {FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: '{"shortlink-routes-manifest": "x"}'},
            "must map shard names",
        ),
    ],
)
def test_an_unreadable_manifest_is_refused(data: dict[str, str], message: str) -> None:
    with pytest.raises(TableFormatError, match=message):
        decode_manifest(data)


def test_the_time_a_link_last_changed_round_trips_and_is_checked() -> None:
    changed = Route(
        slug="a",
        link=Link(url="https://e.com/", slug="a"),
        namespace="t",
        name="a",
        changed=1_896_000_000,
    )
    assert decode_shard(encode_shard([changed])).routes == (changed,)
    entries = {
        "/a": {
            "url": "https://e.com/",
            "slug": "a",
            "namespace": "t",
            "name": "a",
            "changed": "2030-01-31T18:00:00Z",
        }
    }
    decoded = decode_shard({FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: json.dumps(entries)})
    assert decoded.routes == ()
    assert "changed must be a whole, non-negative number of Unix seconds" in decoded.rejected[0]


def test_a_format_2_table_is_still_read_so_redirectors_can_be_rolled_out_first() -> None:
    # Format 3 routes suspended links; a format-2 table has none and reads the same.
    assert (FORMAT_VERSION, sorted(READABLE_FORMATS)) == ("3", ["2", "3"])
    entries = {"/a": {"url": "https://e.com/", "slug": "a", "namespace": "t", "name": "a"}}
    decoded = decode_shard({FORMAT_KEY: "2", ROUTES_KEY: json.dumps(entries)})
    assert [r.slug for r in decoded.routes] == ["a"]
    assert decode_manifest({FORMAT_KEY: "2", SHARDS_KEY: "{}"}) == {}
    with pytest.raises(TableFormatError, match="'2' and '3'"):
        decode_shard({FORMAT_KEY: "1", ROUTES_KEY: "{}"})
