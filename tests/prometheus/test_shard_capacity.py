"""The shard capacity alert fires when a real shard passes 80 % of the operator's real budget.

The operator of this tier runs with `--shard-budget-bytes 8192` (see conftest), exports that
budget as `shortlink_operator_shard_capacity_bytes`, and a real Prometheus evaluates the shipped
`ShortlinkShardNearCapacity` rule against it while links fill one shard. Runs after
test_real_prometheus.py, whose expectations of quiet alerts it would otherwise disturb, and removes
its links when done.
"""

import secrets

import yaml

from shortlink_core.matching import routing_key
from shortlink_core.table import shard_index, shard_name
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, shortlink
from tests.prometheus.conftest import SHARD_BUDGET
from tests.prometheus.server import RULES, Prometheus


def rule(name: str) -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    [expr] = [r["expr"] for g in groups for r in g["rules"] if r.get("alert") == name]
    return str(expr)


def test_a_shard_past_80_percent_of_its_budget_raises_the_capacity_alert(
    control_plane: ControlPlane, observed_stack: Stack, prometheus: Prometheus
) -> None:
    def capacity() -> None:
        found = prometheus.query("shortlink_operator_shard_capacity_bytes")
        # Asserted, not unpacked: `eventually` retries an AssertionError only, and the first
        # queries may come before the first scrape.
        assert len(found) == 1, found
        assert float(found[0]["value"][1]) == SHARD_BUDGET

    eventually(capacity, timeout=30)
    cluster = Cluster(control_plane, prefix="capacity")
    unique = secrets.token_hex(3)
    # Slugs that all fall in one shard, with targets of about 200 bytes: some 300 bytes an entry.
    target = shard_index(routing_key("", f"fill-{unique}-0"), 64)
    slugs = [
        s
        for s in (f"fill-{unique}-{i}" for i in range(3000))
        if shard_index(routing_key("", s), 64) == target
    ]
    expr = rule("ShortlinkShardNearCapacity")
    try:
        for slug in slugs[:24]:
            cluster.apply(shortlink(slug, "https://example.com/" + "p" * 180 + slug))

        def firing() -> None:
            found = prometheus.query(expr)
            assert len(found) == 1, found  # none until the operator's pass and the next scrape
            series = found[0]
            assert series["metric"]["shard"] == shard_name(target), series
            assert 0.8 < float(series["value"][1]) <= 1, series
            alerts = prometheus.api("alerts")["alerts"]
            raised = [a for a in alerts if a["labels"]["alertname"] == "ShortlinkShardNearCapacity"]
            assert [a["labels"]["shard"] for a in raised] == [shard_name(target)], alerts
            # `for: 5m`: within a test it is pending; promtool's test shows it firing after 5m.
            assert raised[0]["state"] in {"pending", "firing"}

        eventually(firing, timeout=120, interval=0.5)  # generous: CI may be busy
        # The planner kept the shard within the budget the alert divides by.
        [fullest] = prometheus.query("max(shortlink_operator_shard_bytes)")
        assert float(fullest["value"][1]) <= SHARD_BUDGET
    finally:
        cluster.kubectl("delete", "shortlinks", "--all", "--wait=false")

    def quiet() -> None:
        assert prometheus.query(expr) == []

    eventually(quiet, timeout=30, interval=0.5)
