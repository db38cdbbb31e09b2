"""Which slugs and target URLs a link may have, and the ASCII form a target is served in."""

import pytest

from shortlink_core.validation import InvalidLink, normalize_url, validate_slug


@pytest.mark.parametrize("slug", ["a", "docs", "team-docs", "q3.report", "a_b", "x" * 100, "0"])
def test_acceptable_slugs(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("", "must not be empty"),
        ("x" * 101, "at most 100"),
        ("Docs", "lowercase"),
        ("-docs", "start and end"),
        ("docs.", "start and end"),
        ("a/b", "lowercase"),
        ("a b", "lowercase"),
        ("healthz", "reserved"),
        ("readyz", "reserved"),
        ("metrics", "reserved"),
    ],
)
def test_unacceptable_slugs_say_why(slug: str, message: str) -> None:
    with pytest.raises(InvalidLink, match=message):
        validate_slug(slug)


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("https://example.com/", "https://example.com/"),
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("http://example.com:8080/a?b=c#d", "http://example.com:8080/a?b=c#d"),
        ("https://example.com/a%20b", "https://example.com/a%20b"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443/x"),
    ],
)
def test_targets_are_served_in_ascii_form(url: str, served: str) -> None:
    assert normalize_url(url) == served


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)", "http:// or https://"),
        ("data:text/html,hi", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("ftp://example.com/", "http:// or https://"),
        ("//example.com/", "http:// or https://"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https://", "must have a host"),
        ("https://example.com/a b", "whitespace"),
        ("https://example.com/\r\nSet-Cookie: x", "whitespace or control"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/" + "a" * 2048, "at most 2048"),
    ],
)
def test_unacceptable_targets_say_why(url: str, message: str) -> None:
    with pytest.raises(InvalidLink, match=message):
        normalize_url(url)
