"""The list limits of a ShortLink (aliases, rules, split arms), re-checked outside the CRD.

The CRD refuses longer lists at apply time (tests/cluster/test_capacity.py); `parse_link` refuses
them too, for an older CRD or a hand-edited table entry.
"""

from typing import Any

import pytest

from shortlink_core.link import MAX_ALIASES, MAX_RULES, MAX_SPLIT_ARMS, parse_link
from shortlink_core.validation import InvalidLink


def arms(count: int) -> list[dict[str, Any]]:
    return [{"weight": 1, "url": f"https://e.com/{i}"} for i in range(count)]


def test_the_limits_are_those_of_the_crd() -> None:
    assert (MAX_ALIASES, MAX_RULES, MAX_SPLIT_ARMS) == (8, 8, 4)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"aliases": [f"a{i}" for i in range(9)]}, "spec.aliases may list at most 8 slugs"),
        ({"rules": [{"url": "https://e.com/"}] * 9}, "spec.rules may hold at most 8 rules"),
        ({"rules": [{"split": arms(5)}]}, "spec.rules[0].split may have at most 4 arms"),
    ],
)
def test_longer_lists_are_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidLink, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_link({"url": "https://e.com/", **spec}, name="x")


def test_lists_at_the_limits_are_accepted() -> None:
    link = parse_link(
        {
            "url": "https://e.com/",
            "aliases": [f"a{i}" for i in range(8)],
            "rules": [{"split": arms(4)}] * 8,
        },
        name="x",
    )
    assert (len(link.aliases), len(link.rules), len(link.rules[0].split)) == (8, 8, 4)
