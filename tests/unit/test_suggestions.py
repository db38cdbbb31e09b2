"""Not-found suggestions from the sorted index: what they find, whom they show, what they cost."""

import random
import string
from typing import Any

import pytest
from rapidfuzz import process

from shortlink_core.validation import SLUG_MAX_LENGTH
from shortlink_redirector.suggestions import LIMIT, NEIGHBOURS, SlugIndex

WANTED = "quarterly-report"


def _noise(count: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)  # noqa: S311 - a fixed table of noise, not a secret
    letters = string.ascii_lowercase + string.digits
    return [
        "/" + "".join(rnd.choice(letters) for _ in range(rnd.randint(4, 24))) for _ in range(count)
    ]


@pytest.fixture(scope="module")
def big_index() -> SlugIndex:
    # The wanted slug among many, some of them sharing its beginning or its end.
    keys = _noise(50_000)
    keys += [f"/quarter{i}" for i in range(300)] + [f"/{i}report" for i in range(300)]
    return SlugIndex.build([*keys, "/quarterlyreport"])


@pytest.mark.parametrize(
    "typed",
    [
        "quarterly-reprt",  # a letter missing near the end
        "qarterly-report",  # near the beginning
        "quartelry-report",  # two letters swapped in the middle
        "quarterly-reports",  # one too many
        "Quarterly_Report",  # another spelling of the same key is the same key
        "xuarterly-report",  # the first letter wrong
        "quarterly-repor",  # the last letter missing
    ],
)
def test_a_typo_anywhere_finds_the_slug_in_a_big_table(big_index: SlugIndex, typed: str) -> None:
    assert "/quarterlyreport" in big_index.close_keys("", typed)


def test_nothing_is_suggested_when_nothing_is_close() -> None:
    index = SlugIndex.build(["/handbook", "/holidays"])
    assert index.close_keys("", "zzzzqqqq") == []
    assert index.close_keys("", "handbok") == ["/handbook"]


def test_at_most_limit_suggestions_best_first() -> None:
    index = SlugIndex.build(["/docs", "/doc", "/docs1", "/docs12", "/dogs", "/zebra"])
    found = index.close_keys("", "docs")
    assert len(found) == LIMIT
    assert found[0] == "/docs"


def test_only_slugs_the_visitors_host_serves_are_suggested() -> None:
    index = SlugIndex.build(["a.example/handbook", "/handbooks", "b.example/handbok"])
    assert set(index.close_keys("a.example", "handbok")) == {"a.example/handbook", "/handbooks"}
    assert index.close_keys("c.example", "handbok") == ["/handbooks"]
    assert index.close_keys("", "handbok") == ["/handbooks"]


def test_the_hosts_own_link_comes_before_a_host_less_one_of_the_same_key() -> None:
    index = SlugIndex.build(["/docs", "a.example/docs"])
    assert index.close_keys("a.example", "doc") == ["a.example/docs"]


def test_the_work_per_request_is_bounded(
    big_index: SlugIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[int] = []
    extract = process.extract

    def counting(query: str, choices: list[str], **kwargs: Any) -> Any:
        scored.append(len(choices))
        assert len(query) <= SLUG_MAX_LENGTH
        return extract(query, choices, **kwargs)

    monkeypatch.setattr(process, "extract", counting)
    for typed in ("quarterly", "a" * 100_000, "0", "zz" * 40, "é€\x00/?#"):
        big_index.close_keys("host.example", typed)
    # Two orders, two sides, two hosts (the visitor's and host-less).
    assert max(scored) <= 2 * 2 * 2 * NEIGHBOURS


@pytest.mark.parametrize("typed", ["", "-", "...", "é", "\x00"])
def test_odd_requests_find_nothing_and_never_fail(typed: str) -> None:
    assert SlugIndex.build(["/a", "/b"]).close_keys("", typed) == []
    assert SlugIndex().close_keys("", typed) == []
