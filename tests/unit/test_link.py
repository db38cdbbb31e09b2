"""Reading a ShortLink's spec: defaults, and what is refused."""

import pytest

from shortlink_core.link import Link, link_to_entry, parse_link
from shortlink_core.validation import InvalidLink


def test_slug_defaults_to_the_object_name_and_code_to_302() -> None:
    assert parse_link({"url": "https://example.com"}, name="docs") == Link(
        slug="docs", url="https://example.com/", redirect_code=302
    )


def test_explicit_slug_and_code_win() -> None:
    link = parse_link({"url": "https://example.com", "slug": "d", "redirectCode": 308}, name="x")
    assert (link.slug, link.redirect_code) == ("d", 308)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec needs exactly one of url and targetRef"),
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


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"url": "https://e.com", "slug": "a", "generateSlug": True}, "cannot both be set"),
        ({"url": "https://e.com", "aliases": ["x", "x"]}, "must not repeat"),
        ({"url": "https://e.com", "host": "go example"}, "DNS name"),
        ({"url": "https://e.com", "match": "Fuzzy"}, "spec.match must be one of"),
        (
            {
                "url": "https://e.com",
                "activeFrom": "2030-01-02T00:00:00Z",
                "expiresAt": "2030-01-01T00:00:00Z",
            },
            "later than",
        ),
        ({"url": "https://e.com", "expiresAt": "2030-01-01T00:00:00"}, "needs a time zone"),
        ({"url": "https://e.com", "expiredURL": "https://e.com/old"}, "needs spec.expiresAt"),
        ({"url": "https://e.com", "rules": [{"when": {}}]}, "exactly one of url or split"),
        (
            {"url": "https://e.com", "rules": [{"split": [{"weight": 0, "url": "https://a.e"}]}]},
            "positive total weight",
        ),
        (
            {
                "url": "https://e.com",
                "rules": [{"url": "https://a.e", "when": {"devices": ["Phone"]}}],
            },
            "devices may hold only",
        ),
        ({"url": "https://{path}.e.com/x"}, "placeholders may not stand in the host"),
        ({"url": "https://e.com/{nope}"}, "only the placeholders"),
        ({"url": "https://e.com", "utm": {"campaign": "x", "id": "y"}}, "spec.utm may set only"),
        ({"url": "https://e.com", "owner": "a\nb"}, "spec.owner must be one line"),
        ({"url": "https://e.com", "owner": "a\x85b"}, "spec.owner must be one line"),
        ({"url": "https://e.com", "owner": "x" * 201}, "at most 200 characters"),
        ({"url": "https://e.com", "listed": "yes"}, "spec.listed must be true or false"),
    ],
)
def test_invalid_feature_specs_are_refused_with_a_reason(
    spec: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(spec, name="x")


def test_a_generated_link_has_no_slug_of_its_own() -> None:
    link = parse_link({"url": "https://e.com", "generateSlug": True, "aliases": ["a"]}, name="x")
    assert (link.slug, link.slugs) == (None, ("a",))


def test_utm_tags_are_added_to_every_destination_without_overriding() -> None:
    link = parse_link(
        {
            "url": "https://e.com/?utm_source=own",
            "utm": {"source": "chat", "campaign": "q3"},
            "rules": [{"split": [{"url": "https://a.e/"}]}],
        },
        name="x",
    ).with_utm_applied()
    assert link.url == "https://e.com/?utm_source=own&utm_campaign=q3"
    assert link.rules[0].split[0].url == "https://a.e/?utm_source=chat&utm_campaign=q3"


def test_every_destination_is_judged_in_the_form_it_is_sent() -> None:
    link = parse_link(
        {
            "url": "HTTPS://Example.COM:443",
            "expiresAt": "2030-01-01T00:00:00Z",
            "expiredURL": "https://faß.de/archiv",
            "rules": [{"url": "https://bücher.example/", "split": None}],
        },
        name="x",
    )
    assert link.destinations == (
        "https://example.com/",
        "https://xn--bcher-kva.example/",
        "https://xn--fa-hia.de/archiv",
    )


def test_a_target_over_the_byte_limit_once_encoded_is_invalid() -> None:
    # 363 characters, 2,078 bytes once percent-encoded: never Ready (issue 11).
    with pytest.raises(InvalidLink, match=r"spec.url: .*at most 2048 bytes as sent"):
        parse_link({"url": "https://example.com/" + "é" * 343}, name="x")


def test_utm_tags_that_push_a_target_over_the_limit_make_it_invalid() -> None:
    url = "https://example.com/" + "a" * 2000
    assert parse_link({"url": url}, name="x").url == url
    with pytest.raises(InvalidLink, match=r"spec.utm: .*at most 2048 bytes"):
        parse_link({"url": url, "utm": {"campaign": "c" * 40}}, name="x")


def test_owner_listed_and_suspended_reach_the_table_entry_and_back() -> None:
    spec = {"url": "https://e.com/", "owner": "#team-a <a@e.com>", "listed": True}
    link = parse_link({**spec, "suspended": True}, name="x")
    assert (link.owner, link.listed, link.suspended) == ("#team-a <a@e.com>", True, True)
    entry = link_to_entry(link, slug="x")
    assert entry["owner"] == "#team-a <a@e.com>"
    assert entry["listed"] is True
    assert entry["suspended"] is True
    assert parse_link(entry) == link


def test_unset_listed_means_the_policy_decides_and_is_left_out_of_the_entry() -> None:
    link = parse_link({"url": "https://e.com/"}, name="x")
    assert link.listed is None
    assert "listed" not in link_to_entry(link, slug="x")
    assert parse_link({"url": "https://e.com/", "listed": False}, name="x").listed is False
