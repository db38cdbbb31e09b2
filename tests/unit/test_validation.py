"""Which slugs and short-link hosts a link may have (targets: `test_targets`)."""

import pytest

from shortlink_core.validation import InvalidLink, validate_host, validate_slug


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
    ("host", "ascii_host"),
    [
        ("go.example.com", "go.example.com"),
        ("Go.Example.COM", "go.example.com"),
        ("faß.de", "xn--fa-hia.de"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_hosts_are_idna_2008(host: str, ascii_host: str) -> None:
    assert validate_host(host) == ascii_host


@pytest.mark.parametrize(
    "host", ["go.example.com:8080", "go_links.example.com", "a..b", "ex\u200bample.com", "x%41.com"]
)
def test_unacceptable_hosts_say_why(host: str) -> None:
    with pytest.raises(InvalidLink, match="must be a DNS name"):
        validate_host(host)
