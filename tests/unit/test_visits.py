"""From Prometheus's answers to the `status.visits` that must be written (pure, plain data).

Covers the queries (every window, summed by link, the overflow series left out), reading
Prometheus's JSON vectors, rounding and ordering the counts, `lastVisitTime` (set by a visit in the
lookback, kept otherwise), which links change (none without visits), and the write order under
a budget.
"""

from typing import Any

import pytest

from shortlink_operator.link_index import index_link
from shortlink_operator.visits import (
    NO_VISITS,
    RECENT,
    Change,
    Visits,
    changes,
    current_visits,
    format_time,
    queries,
    read_vector,
    wanted_visits,
    write_order,
)

NOW = 1_780_000_000.0
KEY = ("team", "docs")


def link(name: str, status: dict[str, Any] | None = None) -> Any:
    return index_link(
        {
            "metadata": {"namespace": "team", "name": name, "uid": name},
            "spec": {"url": "https://example.com/"},
            "status": status or {},
        }
    )


def answers(**by_window: dict[tuple[str, str], float]) -> dict[str, dict[tuple[str, str], float]]:
    return dict(by_window)


def test_the_queries_sum_each_window_by_link_without_the_overflow_series() -> None:
    asked = queries(lookback_seconds=360)
    assert set(asked) == {"last24h", "last7d", "last30d", RECENT}
    assert asked["last7d"] == (
        "sum by (namespace, name) "
        '(increase(shortlink_redirects_total{namespace!="_overflow"}[7d])) > 0'
    )
    assert asked[RECENT].endswith("[360s])) > 0")


def test_a_vector_is_read_by_namespace_and_name() -> None:
    result: list[dict[str, Any]] = [
        {"metric": {"namespace": "team", "name": "docs"}, "value": [NOW, "12.4"]},
        {"metric": {"namespace": "team"}, "value": [NOW, "3"]},  # no name: not a link
        {"metric": {"namespace": "team", "name": "nan"}, "value": [NOW, "NaN"]},
        {"metric": {"namespace": "team", "name": "inf"}, "value": [NOW, "+Inf"]},
        {"metric": {"namespace": "team", "name": "zero"}, "value": [NOW, "0"]},
        {"metric": {"namespace": "team", "name": "negative"}, "value": [NOW, "-1"]},
        {"metric": {"namespace": "team", "name": "bad"}, "value": [NOW, "x"]},
        {"metric": {"namespace": "team", "name": "short"}, "value": []},
    ]
    assert read_vector(result) == {KEY: 12.4}


def test_counts_are_rounded_and_never_smaller_than_a_shorter_windows() -> None:
    wanted = wanted_visits(
        answers(last24h={KEY: 4.6}, last7d={KEY: 4.2}, last30d={KEY: 30.49}),
        KEY,
        current=NO_VISITS,
        now=NOW,
    )
    assert (wanted.last24h, wanted.last7d, wanted.last30d) == (5, 5, 30)


def test_a_link_absent_from_an_answer_had_no_visits_in_that_window() -> None:
    wanted = wanted_visits(
        answers(last30d={KEY: 8.0}),
        KEY,
        current=Visits(3, 5, 8, "2026-01-01T00:00:00Z"),
        now=NOW,
    )
    assert wanted == Visits(0, 0, 8, "2026-01-01T00:00:00Z")


def test_a_visit_in_the_lookback_sets_the_last_visit_to_the_poll_time() -> None:
    seen = answers(last24h={KEY: 1.0}, recent={KEY: 1.0})
    wanted = wanted_visits(seen, KEY, current=Visits(0, 0, 0, "2026-01-01T00:00:00Z"), now=NOW)
    assert wanted.last_visit_time == format_time(NOW) == "2026-05-28T20:26:40Z"


def test_without_a_visit_in_the_lookback_the_last_visit_is_kept() -> None:
    seen = answers(last24h={KEY: 1.0}, recent={KEY: 0.0})
    before = Visits(1, 1, 1, "2026-01-01T00:00:00Z")
    assert (
        wanted_visits(seen, KEY, current=before, now=NOW).last_visit_time == before.last_visit_time
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, NO_VISITS),
        ({"visits": "many"}, NO_VISITS),
        (
            {"visits": {"last24h": 1, "last7d": 2, "last30d": 3, "lastVisitTime": "T"}},
            Visits(1, 2, 3, "T"),
        ),
        ({"visits": {"last24h": -1, "last7d": True, "last30d": "3"}}, NO_VISITS),
    ],
)
def test_a_status_is_read_into_visits(status: dict[str, Any], expected: Visits) -> None:
    assert current_visits(status) == expected


def test_only_links_whose_numbers_changed_are_written() -> None:
    shown = {"visits": {"last24h": 2, "last7d": 2, "last30d": 2, "lastVisitTime": None}}
    links = [link("docs", shown), link("same", shown), link("quiet"), link("new")]
    seen = answers(
        last24h={("team", "docs"): 3.0, ("team", "same"): 2.0, ("team", "new"): 1.0},
        last7d={("team", "docs"): 3.0, ("team", "same"): 2.0, ("team", "new"): 1.0},
        last30d={("team", "docs"): 3.0, ("team", "same"): 2.0, ("team", "new"): 1.0},
    )
    found = {change.key: change.visits for change in changes(links, seen, now=NOW)}
    assert found == {("team", "docs"): Visits(3, 3, 3), ("team", "new"): Visits(1, 1, 1)}


def test_links_nobody_follows_cost_no_write() -> None:
    links = [link(f"link-{i}") for i in range(100)]
    zeros = {("team", f"link-{i}"): 0.0 for i in range(100)}
    assert changes(links, answers(last24h=zeros, last7d=zeros, last30d=zeros), now=NOW) == []


def test_visits_that_aged_out_are_written_as_zero() -> None:
    shown = {"visits": {"last24h": 0, "last7d": 0, "last30d": 4, "lastVisitTime": "T"}}
    found = changes([link("docs", shown)], answers(), now=NOW)
    assert [change.visits for change in found] == [Visits(0, 0, 0, "T")]


def test_what_was_written_counts_as_shown_until_the_watch_brings_it_back() -> None:
    written = {KEY: Visits(3, 3, 3)}
    seen = answers(last24h={KEY: 3.0}, last7d={KEY: 3.0}, last30d={KEY: 3.0})
    assert changes([link("docs")], seen, now=NOW, shown=written) == []


def test_a_changed_visit_time_alone_is_a_change() -> None:
    shown = {"visits": {"last24h": 1, "last7d": 1, "last30d": 1, "lastVisitTime": None}}
    seen = answers(last24h={KEY: 1.0}, last7d={KEY: 1.0}, last30d={KEY: 1.0}, recent={KEY: 1.0})
    (change,) = changes([link("docs", shown)], seen, now=NOW)
    assert change.visits == Visits(1, 1, 1, format_time(NOW))


def test_the_status_object_is_a_merge_patch_of_visits_alone() -> None:
    assert Visits(1, 2, 3, "T").to_status() == {
        "last24h": 1,
        "last7d": 2,
        "last30d": 3,
        "lastVisitTime": "T",
    }


def test_never_written_links_go_first_then_the_longest_waiting_then_the_biggest_move() -> None:
    def change(name: str, weight: int) -> Change:
        return Change(("team", name), Visits(weight), weight)

    pending = [change("old-small", 1), change("recent", 50), change("new", 1), change("old-big", 9)]
    last_written = {
        ("team", "old-small"): 10.0,
        ("team", "old-big"): 10.0,
        ("team", "recent"): 99.0,
    }
    order = [c.key[1] for c in write_order(pending, last_written=last_written)]
    assert order == ["new", "old-big", "old-small", "recent"]


def test_visits_older_than_the_lookback_set_no_last_visit_when_none_is_known() -> None:
    seen = answers(last24h={KEY: 2.0}, last7d={KEY: 2.0}, last30d={KEY: 2.0})
    assert wanted_visits(seen, KEY, current=NO_VISITS, now=NOW) == Visits(2, 2, 2, None)
