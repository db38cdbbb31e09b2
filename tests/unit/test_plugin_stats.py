"""`kubectl shortlink stats`: the PromQL it asks, how it reads the answers, what it prints."""

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from shortlink_plugin import stats
from shortlink_plugin.stats import collect, from_status, link_query, render

AT = 1_900_000_000.0


def vector(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [AT, str(value)]}


class FakePrometheus:
    """Answers by query text; records every question and the moment it was asked for."""

    def __init__(self, answers: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, float]] = []

    def __call__(self, expr: str, at: float) -> Sequence[Mapping[str, Any]]:
        self.asked.append((expr, at))
        return self.answers.get(expr, [])


def test_a_links_visits_are_summed_over_codes_and_pods_per_window() -> None:
    assert link_query("team-a", "docs", "7d") == (
        'sum(increase(shortlink_redirects_total{namespace="team-a",name="docs"}[7d]))'
    )
    # Label values are PromQL string literals, whatever they hold.
    assert 'name="a\\"b"' in link_query("ns", 'a"b', "24h")


def test_collect_asks_everything_at_one_moment_and_reads_whole_visits() -> None:
    prometheus = FakePrometheus(
        {
            link_query("ns", "docs", "24h"): [vector(2.6)],
            link_query("ns", "docs", "7d"): [vector(2.4)],  # extrapolation: below the 24 h one
            link_query("ns", "docs", "30d"): [vector(40)],
            stats.class_query(stats.CLASS_METRICS["visitors"], "24h"): [
                vector(3, **{"class": "mobile"}),
                vector(1, **{"class": "bot"}),
                vector(9, **{"class": "not-a-class"}),
            ],
            stats.class_query(stats.CLASS_METRICS["referrers"], "30d"): [
                vector(float("nan"), **{"class": "direct"}),
            ],
        }
    )
    numbers = collect(prometheus, namespace="ns", name="docs", slug="docs", at=AT)
    assert numbers.visits == {"24h": 3, "7d": 3, "30d": 40}
    assert numbers.classes["visitors"]["mobile"] == {"24h": 3, "7d": 0, "30d": 0}
    assert "not-a-class" not in numbers.classes["visitors"]
    assert numbers.classes["referrers"]["direct"]["30d"] == 0
    assert {at for _, at in prometheus.asked} == {AT}


def test_the_output_shows_the_links_visits_and_all_links_class_shares() -> None:
    prometheus = FakePrometheus(
        {
            link_query("ns", "docs", "24h"): [vector(4)],
            stats.class_query(stats.CLASS_METRICS["visitors"], "24h"): [
                vector(3, **{"class": "mobile"}),
                vector(1, **{"class": "bot"}),
            ],
        }
    )
    text = render(collect(prometheus, namespace="ns", name="docs", slug="docs", at=AT))
    lines = text.splitlines()
    assert lines[0] == "ShortLink ns/docs (/docs)"
    assert lines[2].split() == ["visits", "4", "4", "4"]
    assert "visitors of all links served (counted per redirector, not per link):" in text
    mobile = next(line for line in lines if line.startswith("mobile"))
    assert mobile.split() == ["mobile", "75", "%", "-", "-"]


def test_without_prometheus_the_status_visits_are_shown() -> None:
    status = {"visits": {"last24h": 1, "last7d": 5, "last30d": 9, "lastVisitTime": "x"}}
    numbers = from_status(status, namespace="ns", name="docs", slug="docs")
    assert (numbers.visits, numbers.classes) == ({"24h": 1, "7d": 5, "30d": 9}, {})
    assert from_status({}, namespace="ns", name="d", slug="d").visits == {
        "24h": 0,
        "7d": 0,
        "30d": 0,
    }


def test_an_unreachable_or_wrong_prometheus_is_an_error() -> None:
    with pytest.raises(stats.PrometheusError, match="must be an http"):
        stats.http_query("file:///etc/passwd")("up", AT)
