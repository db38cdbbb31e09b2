"""Reading a ShortLink's spec: defaults, and what is refused."""

import pytest

from shortlink_core.link import Link, parse_link
from shortlink_core.validation import InvalidLink


def test_slug_defaults_to_the_object_name_and_code_to_302() -> None:
    assert parse_link({"url": "https://example.com"}, name="docs") == Link(
        slug="docs", url="https://example.com", redirect_code=302
    )


def test_explicit_slug_and_code_win() -> None:
    link = parse_link({"url": "https://example.com", "slug": "d", "redirectCode": 308}, name="x")
    assert (link.slug, link.redirect_code) == ("d", 308)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.url is required"),
        ({"url": "https://e.com", "redirectCode": 303}, "must be one of 301, 302, 307, 308"),
        ({"url": "https://e.com", "redirectCode": True}, "must be one of"),
        ({"url": "javascript:alert(1)"}, "http:// or https://"),
        ({"url": "https://e.com", "slug": "Bad"}, "lowercase"),
    ],
)
def test_invalid_specs_are_refused_with_a_reason(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(spec, name="x")


def test_object_name_used_as_slug_is_validated_too() -> None:
    with pytest.raises(InvalidLink, match="reserved"):
        parse_link({"url": "https://e.com"}, name="healthz")
