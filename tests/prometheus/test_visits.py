"""Visits where people look: traffic → scrape → the operator's poll → `status.visits`.

The tier's operator is restarted with `--prometheus-url` pointing at the tier's real Prometheus,
which scrapes the real redirector every second. Real requests follow a link; the operator (a real
process) reads the counts back through Prometheus's HTTP API and writes them to the ShortLink's
status through the real API server, without touching the fields the publisher writes. A
standby operator (no Lease) neither polls nor writes. With Prometheus away, statuses stay as they
were and links are still published.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shortlink_localcluster.controlplane import ControlPlane, free_port
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, served, shortlink
from tests.prometheus.server import Prometheus

VISITS = 7
MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
BIN = Path(sys.executable).parent


def metric(stack: Stack, name: str) -> float:
    """A sample of the operator's own /metrics, e.g. 'x_total{result="error"}'."""
    for line in httpx.get(stack.operator_metrics_url, timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exported")


@pytest.fixture(scope="module")
def reporting(observed_stack: Stack, prometheus: Prometheus) -> Iterator[Stack]:
    """The tier's operator, restarted to poll the tier's Prometheus every second."""
    assert observed_stack.operator is not None
    observed_stack.operator.stop()
    observed_stack.start_operator(
        "--prometheus-url", prometheus.url, "--visits-interval-seconds", "1"
    )
    yield observed_stack
    assert observed_stack.operator is not None
    observed_stack.operator.stop()
    observed_stack.start_operator()


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> Cluster:
    return Cluster(control_plane, prefix="visits")


def when(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_followed_links_show_their_visits_in_status(
    reporting: Stack, prometheus: Prometheus, cluster: Cluster
) -> None:
    ns = cluster.namespace
    followed, ignored = f"followed-{ns}", f"ignored-{ns}"
    cluster.apply(shortlink("followed", "https://example.com/f", slug=followed))
    cluster.apply(shortlink("ignored", "https://example.com/i", slug=ignored))

    # Served, and the counters scraped at 0 before the first visit; asked of Prometheus, since a
    # request to the links would count as a visit.
    def zero_scraped() -> None:
        assert len(prometheus.query(f'shortlink_redirects_total{{namespace="{ns}"}}')) == 2

    eventually(zero_scraped, timeout=30)
    started = time.time()
    with httpx.Client(base_url=reporting.base_url, timeout=5) as client:
        for _ in range(VISITS):
            assert client.get(f"/{followed}").status_code == 302
    finished = time.time()

    def counted() -> dict[str, Any]:
        status = cluster.get("shortlink", "followed")["status"]
        visits = status.get("visits") or {}
        assert (visits.get("last24h"), visits.get("last7d"), visits.get("last30d")) == (
            VISITS,
            VISITS,
            VISITS,
        ), visits
        return dict(status)

    status = eventually(counted, timeout=90, interval=0.5)
    # the last visit as the poll that saw it: not before the visits, not after this moment
    assert int(started) <= when(status["visits"]["lastVisitTime"]) <= time.time()
    assert when(status["visits"]["lastVisitTime"]) >= int(finished) - 1
    # the publisher's fields are still there, untouched by the visits writes
    ready = cluster.ready("followed")
    assert (status["slug"], ready["reason"]) == (followed, "Published")
    assert status["shortURL"].endswith(f"/{followed}")
    # a link nobody followed has had the same polls, and costs no write
    assert "visits" not in (cluster.get("shortlink", "ignored").get("status") or {})
    assert metric(reporting, 'shortlink_operator_visits_polls_total{result="success"}') > 0

    header, *rows = cluster.kubectl("get", "sl").stdout.splitlines()
    column = header.index("VISITS")
    shown = {row.split()[0]: row[column : header.index("AGE")].strip() for row in rows}
    assert shown == {"followed": str(VISITS), "ignored": ""}


def test_kubectl_shortlink_stats_reads_a_links_visits_and_the_classes_from_prometheus(
    reporting: Stack, prometheus: Prometheus, cluster: Cluster
) -> None:
    ns = cluster.namespace
    slug = f"stats-{ns}"
    cluster.apply(shortlink("stats", "https://example.com/s", slug=slug))

    def zero_scraped() -> None:
        query = f'shortlink_redirects_total{{namespace="{ns}",name="stats"}}'
        assert len(prometheus.query(query)) == 1

    eventually(zero_scraped, timeout=30)
    phone = {"user-agent": MOBILE, "referer": "https://chat.example.org/room"}
    with httpx.Client(base_url=reporting.base_url, timeout=5) as client:
        for _ in range(3):
            assert client.get(f"/{slug}", headers=phone).status_code == 302

    def stats() -> dict[str, Any]:
        result = subprocess.run(
            [str(BIN / "kubectl-shortlink"), "stats", slug, "-n", ns, "-o", "json",
             "--prometheus-url", prometheus.url],
            env=cluster.control_plane.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        assert answer["visits"] == {"24h": 3, "7d": 3, "30d": 3}, answer
        return answer

    answer = eventually(stats, timeout=60, interval=1)
    assert (answer["namespace"], answer["name"], answer["slug"]) == (ns, "stats", slug)
    # Classes are all links': at least this test's phone visits from another site.
    assert answer["allLinks"]["visitors"]["mobile"]["24h"] >= 3
    assert answer["allLinks"]["referrers"]["external"]["24h"] >= 3


def test_a_standby_operator_neither_polls_nor_writes(
    reporting: Stack, prometheus: Prometheus, tmp_path: Path
) -> None:
    standby = Stack(reporting.control_plane, namespace=reporting.namespace, log_dir=tmp_path)
    standby.start_operator("--prometheus-url", prometheus.url, "--visits-interval-seconds", "1")
    try:
        polled = 'shortlink_operator_visits_polls_total{result="success"}'
        start = metric(reporting, polled)

        def leader_polled_three_times() -> None:
            assert metric(reporting, polled) >= start + 3

        eventually(leader_polled_three_times, timeout=60, interval=0.5)
        assert metric(standby, polled) == 0
        assert metric(standby, 'shortlink_operator_visits_polls_total{result="error"}') == 0
    finally:
        standby.stop()


def test_with_prometheus_away_statuses_stay_and_links_are_still_published(
    reporting: Stack, cluster: Cluster
) -> None:
    before = cluster.get("shortlink", "followed")["status"]["visits"]
    assert reporting.operator is not None
    reporting.operator.stop()
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    reporting.start_operator("--prometheus-url", nowhere, "--visits-interval-seconds", "1")

    def failing() -> None:
        assert metric(reporting, 'shortlink_operator_visits_polls_total{result="error"}') >= 2

    eventually(failing, timeout=60, interval=0.5)
    slug = f"later-{cluster.namespace}"
    cluster.apply(shortlink("later", "https://example.com/later", slug=slug))
    served(reporting, slug, "https://example.com/later")
    cluster.wait_reason("later", "Published", timeout=30)  # the status follows the table write
    assert cluster.get("shortlink", "followed")["status"]["visits"] == before
    reporting.operator.check_running()
