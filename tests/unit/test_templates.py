"""Building destinations: suffixes, placeholders and query merging, escaped for where they go."""

import random
import re
import string

import pytest

from shortlink_core.matching import match_key, routing_key
from shortlink_core.templates import append_suffix, merge_query, render

VISIBLE_ASCII = re.compile(r"https://e\.com/[!-~]*")


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
        # Byte for byte: empty segments, a trailing slash, escapes as sent.
        ("https://e.com/", "http://host", "https://e.com/http://host"),
        ("https://e.com/docs", "a/", "https://e.com/docs/a/"),
        ("https://e.com/docs", "a//b", "https://e.com/docs/a//b"),
        ("https://e.com/docs", "/x", "https://e.com/docs//x"),
        ("https://e.com/docs", "%7e%41", "https://e.com/docs/%7e%41"),
        ("https://e.com/docs", "100%", "https://e.com/docs/100%"),
        # Dot segments in any spelling are dropped, never resolved.
        ("https://e.com/docs", "a/./b/%2E%2e/.%2E/c/..", "https://e.com/docs/a/b/c"),
        ("https://e.com/docs", "..", "https://e.com/docs"),
        ("https://e.com/docs", "...", "https://e.com/docs/..."),
        # Bytes a URL cannot carry are percent-encoded, and only those.
        ("https://e.com/docs", "\xc3\xa4", "https://e.com/docs/%C3%A4"),  # raw UTF-8 bytes
        ("https://e.com/docs", "..\\admin", "https://e.com/docs/..%5Cadmin"),
        ("https://e.com/docs", '"<>^`{|}', "https://e.com/docs/%22%3C%3E%5E%60%7B%7C%7D"),
        ("https://e.com/docs", "a?b#c", "https://e.com/docs/a%3Fb%23c"),
        ("https://e.com/docs?", "a", "https://e.com/docs/a?"),
        ("https://e.com/docs#top", "a", "https://e.com/docs/a#top"),
    ],
)
def test_suffixes_are_appended_byte_for_byte_without_dot_segments(
    url: str, suffix: str, expected: str
) -> None:
    assert append_suffix(url, suffix) == expected


def test_placeholders_are_escaped_for_their_part_of_the_url() -> None:
    assert render("https://e.com/{path}?q={path}", suffix="a b/c&d", query="") == (
        "https://e.com/a%20b/c&d?q=a%20b/c%26d"  # "&" is fine in a path, not in a query value
    )
    assert (
        render("https://e.com/s?{query}", suffix="", query="a=1&b=2")
        == "https://e.com/s?a%3D1%26b%3D2"
    )


@pytest.mark.parametrize(
    ("url", "query", "expected"),
    [
        ("https://e.com/", "else", "https://e.com/?else"),
        ("https://e.com/", "q=a+b", "https://e.com/?q=a+b"),
        ("https://e.com/", "a=1&&b=%41&c=", "https://e.com/?a=1&&b=%41&c="),
        ("https://e.com/?x=1", "q=a%20b;c", "https://e.com/?x=1&q=a%20b;c"),
        ("https://e.com/?", "x=1", "https://e.com/?x=1"),
        ("https://e.com/?x=1&", "y=2", "https://e.com/?x=1&y=2"),
        ("https://e.com/", "q=\xc3\xa4 x", "https://e.com/?q=%C3%A4%20x"),
        ("https://e.com/p#f", "a=/?:@", "https://e.com/p?a=/?:@#f"),
        # A clash: the target's pair wins, the request's other pairs go on as sent.
        ("https://e.com/?a=1", "a=2&b=x+y&c&&d=%2F", "https://e.com/?a=1&b=x+y&c&d=%2F"),
        ("https://e.com/?lang=en", "l%61ng=fr&x", "https://e.com/?lang=en&x"),
        ("https://e.com/?a+b=1", "a%20b=2&c=3", "https://e.com/?a+b=1&c=3"),
        ("https://e.com/?a=1", "a=2", "https://e.com/?a=1"),
    ],
)
def test_the_query_is_forwarded_byte_for_byte_unless_a_key_clashes(
    url: str, query: str, expected: str
) -> None:
    assert merge_query(url, query) == expected


def test_query_merging_keeps_the_targets_values() -> None:
    assert merge_query("https://e.com/?a=1", "a=2&b=3") == "https://e.com/?a=1&b=3"
    assert merge_query("https://e.com/", "") == "https://e.com/"
    assert merge_query("https://e.com/#top", "x=1") == "https://e.com/?x=1#top"


def test_match_keys_fold_case_and_separators() -> None:
    assert match_key("Team-Docs") == match_key("team_docs") == match_key("teamdocs") == "teamdocs"
    assert routing_key("go.example.com", "Team-Docs") == "go.example.com/teamdocs"
    assert routing_key("", "x") == "/x"


def test_random_bytes_always_give_a_visible_ascii_url_that_cannot_climb() -> None:
    rng = random.Random(11)  # noqa: S311 - reproducible test data, not secrets
    alphabet = [chr(b) for b in range(256)] + list("/.%2eE") * 20  # dots and slashes often
    for _ in range(3000):
        suffix = "".join(rng.choices(alphabet, k=rng.randrange(12)))
        query = "".join(rng.choices(alphabet, k=rng.randrange(12))).replace("#", "")
        for url in (
            append_suffix("https://e.com/docs?x=1", suffix),
            merge_query("https://e.com/docs?x=1#f", query),
            render("https://e.com/a/{path}?q={path}&r={query}", suffix=suffix, query=query),
        ):
            assert VISIBLE_ASCII.fullmatch(url), url
            path = url.split("?", 1)[0].split("/")[3:]
            assert not {s.lower() for s in path} & {".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}


def test_what_a_url_can_carry_is_kept_exactly() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible test data, not secrets
    safe = string.ascii_letters + string.digits + "-_~!$&'()*+,;=:@%"
    for _ in range(1000):
        segments = ["".join(rng.choices(safe, k=rng.randrange(5))) for _ in range(4)]
        suffix = "/".join(s for s in segments if s.lower() not in ("", ".", ".."))
        if suffix:
            assert append_suffix("https://e.com/d", suffix) == f"https://e.com/d/{suffix}"
        query = "".join(rng.choices(safe + "/?", k=rng.randrange(1, 20)))
        assert merge_query("https://e.com/d", query) == f"https://e.com/d?{query}"
