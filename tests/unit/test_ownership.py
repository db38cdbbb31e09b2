"""Which ShortLink owns a slug that several claim: deterministic, whatever the arrival order."""

import itertools
from dataclasses import replace

from shortlink_core.link import Link
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.ownership import Claim, resolve_ownership


def link(namespace: str, name: str, created: str, **status: object) -> IndexedLink:
    return IndexedLink(
        namespace=namespace,
        name=name,
        uid=f"{namespace}-{name}",
        created=created,
        generation=1,
        link=Link(url="https://example.com/", slug="docs"),
        error=None,
        status=status,
    )


def claim(owner: IndexedLink, slug: str = "docs", host: str = "") -> Claim:
    assert owner.link is not None
    return Claim(owner, replace(owner.link, host=host), slug)


def test_oldest_claim_owns_the_slug_in_every_arrival_order() -> None:
    claims = [
        claim(link("b", "newer", "2026-01-02T00:00:00Z")),
        claim(link("a", "oldest", "2026-01-01T00:00:00Z")),
        claim(link("c", "newest", "2026-01-03T00:00:00Z")),
    ]
    for order in itertools.permutations(claims):
        result = resolve_ownership(order)
        assert result.owners["/docs"].link.name == "oldest"
        assert {key: owner[1] for key, owner in result.losers.items()} == {
            ("b", "newer", "docs"): "oldest",
            ("c", "newest", "docs"): "oldest",
        }


def test_equal_creation_times_fall_back_to_namespace_then_name() -> None:
    same = "2026-01-01T00:00:00Z"
    claims = [claim(link("b", "a", same)), claim(link("a", "z", same)), claim(link("a", "y", same))]
    for order in itertools.permutations(claims):
        assert resolve_ownership(order).owners["/docs"].link.key == ("a", "y")


def test_the_established_owner_keeps_its_slug_against_an_older_newcomer() -> None:
    # "holder" serves the slug already (its status says so); "elder" is older but arrives later,
    # say after a namespace was restored from a backup.
    holder = claim(link("b", "holder", "2026-01-02T00:00:00Z", slug="docs"))
    elder = claim(link("a", "elder", "2026-01-01T00:00:00Z"))
    for order in itertools.permutations([holder, elder]):
        result = resolve_ownership(order)
        assert result.owners["/docs"].link.name == "holder"
        assert result.losers == {("a", "elder", "docs"): holder.link.key}


def test_a_served_alias_is_established_too() -> None:
    holder = claim(link("b", "holder", "2026-01-02T00:00:00Z", aliases=["docs"]))
    elder = claim(link("a", "elder", "2026-01-01T00:00:00Z"))
    assert resolve_ownership([elder, holder]).owners["/docs"].link.name == "holder"


def test_a_stale_status_for_another_slug_gives_no_seniority() -> None:
    renamed = claim(link("b", "renamed", "2026-01-02T00:00:00Z", slug="old-slug"))
    elder = claim(link("a", "elder", "2026-01-01T00:00:00Z"))
    assert resolve_ownership([renamed, elder]).owners["/docs"].link.name == "elder"


def test_spellings_that_match_alike_conflict() -> None:
    first = claim(link("a", "first", "2026-01-01T00:00:00Z"), slug="team-docs")
    second = claim(link("a", "second", "2026-01-02T00:00:00Z"), slug="teamdocs")
    result = resolve_ownership([second, first])
    assert result.owners["/teamdocs"].link.name == "first"
    assert ("a", "second", "teamdocs") in result.losers


def test_the_same_slug_on_different_hosts_does_not_conflict() -> None:
    a = claim(link("a", "a", "2026-01-01T00:00:00Z"), host="go.example.com")
    b = claim(link("a", "b", "2026-01-02T00:00:00Z"), host="links.example.com")
    c = claim(link("a", "c", "2026-01-03T00:00:00Z"))
    result = resolve_ownership([a, b, c])
    assert set(result.owners) == {"go.example.com/docs", "links.example.com/docs", "/docs"}
    assert result.losers == {}


def test_the_link_the_table_serves_keeps_its_slug_even_without_status() -> None:
    # After a restart with a lost status write, the table itself says who serves the key.
    served = claim(link("b", "served", "2026-01-02T00:00:00Z"))
    elder = claim(link("a", "elder", "2026-01-01T00:00:00Z"))
    result = resolve_ownership([elder, served], served={"/docs": ("b", "served")})
    assert result.owners["/docs"].link.name == "served"


def test_a_held_slug_goes_to_its_deleted_owner_or_to_nobody() -> None:
    newcomer = claim(link("a", "newcomer", "2026-01-01T00:00:00Z"))
    returning = claim(link("b", "owner", "2026-01-05T00:00:00Z"))
    alone = resolve_ownership([newcomer], reserved={"/docs": ("b", "owner")})
    assert alone.owners == {}
    assert alone.losers == {("a", "newcomer", "docs"): ("b", "owner")}
    back = resolve_ownership([newcomer, returning], reserved={"/docs": ("b", "owner")})
    assert back.owners["/docs"].link.name == "owner"
