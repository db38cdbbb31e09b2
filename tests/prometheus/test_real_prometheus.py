"""Every dashboard query and every alert expression, run by a real Prometheus on real traffic.

Prometheus scrapes a real redirector and the real operator (processes on the local control
plane) every second. The tests create links (one of them in conflict), send bounded traffic to
127.0.0.1, then execute each panel's queries and each alert's expression through the HTTP API.
"""

import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, shortlink
from tests.prometheus.conftest import NOT_FOUND_BURST
from tests.prometheus.server import DASHBOARD, RULES, Prometheus

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
PHONE_VISITS, BOT_VISITS, DESKTOP_VISITS, MISSES = 30, 10, 5, 600
#: What the alert expressions should say about this traffic: a 404 spike (most misses are
#: answered 404 before the budget runs out), and one link in conflict. Every other alert stays
#: quiet.
EXPECTED_ALERTS = {"ShortlinkNotFoundSpike", "ShortlinkLinksInConflict"}


@dataclass(frozen=True)
class Traffic:
    namespace: str
    docs: str
    perm: str


@pytest.fixture(scope="module")
def traffic(control_plane: ControlPlane, observed_stack: Stack, prometheus: Prometheus) -> Traffic:
    def scraped() -> None:
        up = prometheus.query("up")
        assert len(up) == 2, up
        assert all(series["value"][1] == "1" for series in up), up

    eventually(scraped, timeout=30)  # a first scrape before any traffic: counters start at 0
    cluster = Cluster(control_plane, prefix="observability")
    other = cluster.new_namespace()
    unique = secrets.token_hex(3)
    docs, perm = f"docs-{unique}", f"perm-{unique}"
    cluster.apply(shortlink(docs, "https://example.com/docs?token=1"))
    cluster.apply(shortlink(perm, "https://example.org/", redirectCode=301))
    cluster.apply(shortlink("copy", "https://evil.example/", slug=docs), namespace=other)
    cluster.wait_reason("copy", "SlugConflict", namespace=other)

    def loaded() -> None:  # read from /metrics: a request to the links would count as a visit
        exposition = httpx.get(observed_stack.metrics_url, timeout=5).text
        assert "\nshortlink_table_entries 2.0\n" in exposition

    def zero_scraped() -> None:  # the links' series exist at 0 before the first visit
        assert len(prometheus.query(f'shortlink_redirects_total{{namespace="{ns}"}}')) == 2

    ns = cluster.namespace
    eventually(loaded, timeout=15)
    eventually(zero_scraped, timeout=15)

    with httpx.Client(base_url=observed_stack.base_url, timeout=5) as client:
        for _ in range(PHONE_VISITS):
            client.get(
                f"/{docs}", headers={"user-agent": PHONE, "referer": "https://news.example/"}
            )
        for _ in range(BOT_VISITS):
            client.get(f"/{docs}", headers={"user-agent": "Googlebot/2.1"})
        for _ in range(DESKTOP_VISITS):
            client.get(f"/{perm}", headers={"user-agent": DESKTOP})
        statuses = [client.get(f"/no-such-link-{i}").status_code for i in range(MISSES)]
    # One client: its network's not-found budget runs out, and the rest are limited.
    assert statuses[:NOT_FOUND_BURST] == [404] * NOT_FOUND_BURST
    assert set(statuses) == {404, 429}

    def seen() -> None:
        misses = prometheus.query(
            "sum(shortlink_not_found_total) + sum(shortlink_not_found_limited_total)"
        )
        assert [float(series["value"][1]) for series in misses] == [MISSES], misses
        visits = prometheus.query(f'sum(shortlink_redirects_total{{namespace="{ns}"}})')
        assert [float(series["value"][1]) for series in visits] == [
            PHONE_VISITS + BOT_VISITS + DESKTOP_VISITS
        ], visits

    eventually(seen, timeout=30)
    return Traffic(namespace=cluster.namespace, docs=docs, perm=perm)


def substitute(expr: str, traffic: Traffic) -> str:
    """Grafana's template variables, as the dashboard would fill them in for our namespace."""
    variables = {
        "namespace": traffic.namespace,
        "link": f"{traffic.docs}|{traffic.perm}",
        "__rate_interval": "1m",
        "__range": "5m",
    }
    return re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], expr)


def panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def values(result: list[dict[str, Any]], label: str | None = None) -> dict[str, float]:
    return {
        series["metric"].get(label, "") if label else "": float(series["value"][1])
        for series in result
    }


def run_panel(prometheus: Prometheus, traffic: Traffic, title: str) -> list[list[dict[str, Any]]]:
    [panel] = [panel for panel in panels() if panel["title"] == title]
    return [prometheus.query(substitute(t["expr"], traffic)) for t in panel["targets"]]


def test_every_panel_query_returns_series(prometheus: Prometheus, traffic: Traffic) -> None:
    for panel in panels():
        for target in panel["targets"]:
            expr = substitute(target["expr"], traffic)
            assert "$" not in expr
            assert prometheus.query(expr), f"{panel['title']}: {expr} returned nothing"


def test_redirect_panels_count_the_links_that_were_followed(
    prometheus: Prometheus, traffic: Traffic
) -> None:
    [[total]] = run_panel(prometheus, traffic, "Redirects per second")
    assert float(total["value"][1]) > 0
    [by_namespace] = run_panel(prometheus, traffic, "Redirects per second by namespace")
    assert set(values(by_namespace, "namespace")) == {traffic.namespace}
    [top] = run_panel(prometheus, traffic, "Top links")
    counts = {s["metric"]["name"]: float(s["value"][1]) for s in top}
    assert set(counts) == {traffic.docs, traffic.perm}
    # increase() extrapolates past the samples (a lot, over seconds of data): at least the
    # visits, and the order of the links is right
    assert counts[traffic.docs] >= PHONE_VISITS + BOT_VISITS
    assert counts[traffic.perm] >= DESKTOP_VISITS
    assert counts[traffic.docs] > counts[traffic.perm]


def test_not_found_visitor_and_referrer_panels(prometheus: Prometheus, traffic: Traffic) -> None:
    [[misses], [limited]] = run_panel(prometheus, traffic, "Not found per second")
    assert float(misses["value"][1]) > 0
    assert float(limited["value"][1]) > 0
    [visitors] = run_panel(prometheus, traffic, "Visitors by class")
    by_class = values(visitors, "class")
    assert by_class["mobile"] > 0
    assert by_class["bot"] > 0
    assert by_class["desktop"] > 0
    assert by_class["tablet"] == 0
    [referrers] = run_panel(prometheus, traffic, "Referrers by class")
    assert values(referrers, "class")["external"] > 0
    assert values(referrers, "class")["same-site"] == 0


def test_latency_quantiles_are_plausible_seconds(prometheus: Prometheus, traffic: Traffic) -> None:
    [[p50], [p99]] = run_panel(prometheus, traffic, "Redirect latency")
    assert 0 < float(p50["value"][1]) <= float(p99["value"][1]) < 1


def test_table_and_operator_panels(prometheus: Prometheus, traffic: Traffic) -> None:
    [[ready]] = run_panel(prometheus, traffic, "Redirectors ready")
    assert float(ready["value"][1]) == 1
    [[entries], [size]] = run_panel(prometheus, traffic, "Table size")
    assert float(entries["value"][1]) == 2  # docs and perm; the copy in conflict is not served
    assert float(size["value"][1]) > 100
    [ages] = run_panel(prometheus, traffic, "Table age")
    assert all(0 <= age < 120 for age in values(ages, "instance").values())
    [[fill]] = run_panel(prometheus, traffic, "Fullest shard")
    assert 0 < float(fill["value"][1]) < 0.1  # two small links against an 8 KiB budget
    [[up]] = run_panel(prometheus, traffic, "Operator up")
    assert float(up["value"][1]) == 1
    [reasons] = run_panel(prometheus, traffic, "Links by condition reason")
    # Every reason is exported from the start, at 0 until a link has it.
    assert values(reasons, "reason") == {
        "Published": 2,
        "SlugConflict": 1,
        "InvalidSpec": 0,
        "PolicyViolation": 0,
        "CapacityExceeded": 0,
        "Suspended": 0,
        "Scheduled": 0,
        "Expired": 0,
        "TargetNotFound": 0,
        "TargetUnresolvable": 0,
    }
    [[published]] = run_panel(prometheus, traffic, "Seconds since the last successful publish")
    assert 0 <= float(published["value"][1]) < 120
    [plan, _writes] = run_panel(prometheus, traffic, "Plan and write latency p99")
    assert math.isfinite(float(plan[0]["value"][1]))


def alert_rules() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_alert_expressions_match_only_what_happened(
    prometheus: Prometheus, traffic: Traffic
) -> None:
    rules = alert_rules()
    assert len(rules) == 9
    matching = {alert for alert, expr in rules.items() if prometheus.query(expr)}
    assert matching == EXPECTED_ALERTS
    [conflicts] = prometheus.query(rules["ShortlinkLinksInConflict"])
    assert float(conflicts["value"][1]) == 1


def test_prometheus_evaluates_the_rules_and_raises_the_provoked_alerts(
    prometheus: Prometheus, traffic: Traffic
) -> None:
    [group] = prometheus.api("rules")["groups"]
    assert {rule["name"] for rule in group["rules"]} == set(alert_rules())
    assert all(rule["health"] == "ok" for rule in group["rules"]), group["rules"]

    def raised() -> None:
        alerts = prometheus.api("alerts")["alerts"]
        states = {alert["labels"]["alertname"]: alert["state"] for alert in alerts}
        # Each has a `for:` of minutes, so within a test they are pending, not yet firing.
        assert set(states) == EXPECTED_ALERTS, states
        assert set(states.values()) <= {"pending", "firing"}

    eventually(raised, timeout=15)


def test_the_redirector_process_logs_each_visit_anonymised(
    observed_stack: Stack, traffic: Traffic
) -> None:
    assert observed_stack.redirector is not None
    log = observed_stack.redirector.log_path

    def logged() -> list[dict[str, Any]]:
        visits = [
            json.loads(line)
            for line in log.read_text().splitlines()
            if line.startswith('{"event":"visit"')
        ]
        assert len(visits) == PHONE_VISITS + BOT_VISITS + DESKTOP_VISITS
        return visits

    visits = eventually(logged, timeout=5)
    assert {visit["client"] for visit in visits} == {"127.0.0.0"}
    docs = [visit for visit in visits if visit["slug"] == traffic.docs]
    assert {visit["target_host"] for visit in docs} == {"example.com"}
    assert {visit["visitor"] for visit in docs} == {"mobile", "bot"}
    assert "token=1" not in log.read_text()
