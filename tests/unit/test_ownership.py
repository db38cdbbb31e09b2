"""Which ShortLink owns a slug that several claim: deterministic, whatever the arrival order."""

import itertools
from dataclasses import replace

from shortlink_core.link import Link
from shortlink_operator.links import IndexedLink
from shortlink_operator.ownership import resolve_ownership


def claim(namespace: str, name: str, created: str, slug: str = "docs") -> IndexedLink:
    return IndexedLink(
        namespace=namespace,
        name=name,
        uid=f"{namespace}-{name}",
        created=created,
        generation=1,
        link=Link(slug=slug, url="https://example.com/"),
        error=None,
        status={},
    )


def test_oldest_claim_owns_the_slug_in_every_arrival_order() -> None:
    claims = [
        claim("b", "newer", "2026-01-02T00:00:00Z"),
        claim("a", "oldest", "2026-01-01T00:00:00Z"),
        claim("c", "newest", "2026-01-03T00:00:00Z"),
    ]
    for order in itertools.permutations(claims):
        result = resolve_ownership(order)
        assert result.owners["docs"].name == "oldest"
        assert result.losers == {("b", "newer"): ("a", "oldest"), ("c", "newest"): ("a", "oldest")}


def test_equal_creation_times_fall_back_to_namespace_then_name() -> None:
    same = "2026-01-01T00:00:00Z"
    claims = [claim("b", "a", same), claim("a", "z", same), claim("a", "y", same)]
    for order in itertools.permutations(claims):
        assert resolve_ownership(order).owners["docs"].key == ("a", "y")


def test_the_established_owner_keeps_its_slug_against_an_older_newcomer() -> None:
    # "holder" serves the slug already (its status says so); "elder" is older but arrives later,
    # say after a namespace was restored from a backup.
    holder = replace(claim("b", "holder", "2026-01-02T00:00:00Z"), status={"slug": "docs"})
    elder = claim("a", "elder", "2026-01-01T00:00:00Z")
    for order in itertools.permutations([holder, elder]):
        result = resolve_ownership(order)
        assert result.owners["docs"].name == "holder"
        assert result.losers == {("a", "elder"): holder.key}


def test_a_stale_status_for_another_slug_gives_no_seniority() -> None:
    renamed = replace(claim("b", "renamed", "2026-01-02T00:00:00Z"), status={"slug": "old-slug"})
    elder = claim("a", "elder", "2026-01-01T00:00:00Z")
    assert resolve_ownership([renamed, elder]).owners["docs"].name == "elder"


def test_invalid_links_claim_nothing() -> None:
    invalid = IndexedLink("a", "bad", "u", "2020-01-01T00:00:00Z", 1, None, "bad url", {})
    result = resolve_ownership([invalid, claim("b", "ok", "2026-01-01T00:00:00Z")])
    assert result.owners["docs"].name == "ok"
    assert result.losers == {}


def test_different_slugs_do_not_conflict() -> None:
    result = resolve_ownership(
        [
            claim("a", "x", "2026-01-01T00:00:00Z", "one"),
            claim("a", "y", "2026-01-01T00:00:00Z", "two"),
        ]
    )
    assert set(result.owners) == {"one", "two"}
    assert result.losers == {}
