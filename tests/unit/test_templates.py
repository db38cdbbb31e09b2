"""Building destinations: suffixes, placeholders and query merging, escaped for where they go."""

import pytest

from shortlink_core.matching import match_key, routing_key
from shortlink_core.templates import append_suffix, merge_query, render


@pytest.mark.parametrize(
    ("url", "suffix", "expected"),
    [
        ("https://e.com/docs", "setup/linux", "https://e.com/docs/setup/linux"),
        ("https://e.com/docs/", "setup", "https://e.com/docs/setup"),
        ("https://e.com/docs?x=1", "a", "https://e.com/docs/a?x=1"),
        ("https://e.com/docs", "../../etc/passwd", "https://e.com/docs/etc/passwd"),
        ("https://e.com/docs", "a%2Fb", "https://e.com/docs/a%2Fb"),
        ("https://e.com/docs", "a b", "https://e.com/docs/a%20b"),
        ("https://e.com/docs", "", "https://e.com/docs"),
    ],
)
def test_suffixes_are_appended_safely(url: str, suffix: str, expected: str) -> None:
    assert append_suffix(url, suffix) == expected


def test_placeholders_are_escaped_for_their_part_of_the_url() -> None:
    assert render("https://e.com/{path}?q={path}", suffix="a b/c&d", query="") == (
        "https://e.com/a%20b/c&d?q=a%20b/c%26d"  # "&" is fine in a path, not in a query value
    )
    assert (
        render("https://e.com/s?{query}", suffix="", query="a=1&b=2")
        == "https://e.com/s?a%3D1%26b%3D2"
    )


def test_query_merging_keeps_the_targets_values() -> None:
    assert merge_query("https://e.com/?a=1", "a=2&b=3") == "https://e.com/?a=1&b=3"
    assert merge_query("https://e.com/", "") == "https://e.com/"
    assert merge_query("https://e.com/#top", "x=1") == "https://e.com/?x=1#top"


def test_match_keys_fold_case_and_separators() -> None:
    assert match_key("Team-Docs") == match_key("team_docs") == match_key("teamdocs") == "teamdocs"
    assert routing_key("go.example.com", "Team-Docs") == "go.example.com/teamdocs"
    assert routing_key("", "x") == "/x"
