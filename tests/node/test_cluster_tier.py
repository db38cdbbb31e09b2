"""The cluster tier against the node: `make test-external` runs every module of `tests/cluster` in
external mode (`SHORTLINK_TEST_KUBECONFIG`), through the node control plane's kubeconfig, as a
user runs it against any cluster, and every test it selects must pass.

What does not run on the node, and why:
- `LOCAL_ONLY`: the tests marked `local_control_plane`, which external mode deselects because they
  need a control plane the tests started (test_resilience's two tests stop the API server,
  test_admission_policy's restart test restarts it, test_watch_gap compacts etcd through its own
  port and restarts the API server). The run must print exactly these, each with its reason.
- `NOT_ON_THE_NODE`: test_scale (10,000 links), left out for its cost alone: about 10 minutes
  here beside the node, against the CI's budget. The local cluster tier runs it, and
  `make test-external` runs it against any cluster.

The chart's operator runs on the node cluster-wide, and the cluster tier starts an operator of its
own: two operators would both write every ShortLink's status. So the chart's operator Deployment
is scaled to 0 for the run and back to its replicas after it, before the other node tests. The
chart's redirectors keep running: they only read the release's own table, which the tier's
operator (in a system namespace of its own) never writes.
"""

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlink_localcluster.release import OPERATORS, RELEASE, Release
from shortlink_localcluster.stack import REPO
from shortlink_localcluster.tools import default_cache_dir
from tests.cluster import conftest as cluster_conftest
from tests.cluster.helpers import eventually

CLUSTER_TIER = REPO / "tests" / "cluster"

#: Modules of the cluster tier the node tier leaves out, for their cost alone (not for what the
#: node lacks): test_scale's 10,000 links took about 10 minutes against the node on 2 cores.
NOT_ON_THE_NODE = ("test_scale.py",)

#: The tests external mode deselects (`local_control_plane`, each printed with its reason).
LOCAL_ONLY = {
    "tests/cluster/test_admission_policy.py::"
    "test_after_an_api_server_restart_the_policy_never_refuses_every_link",
    "tests/cluster/test_resilience.py::test_redirector_keeps_serving_while_the_api_server_is_down",
    "tests/cluster/test_resilience.py::test_redirector_is_not_ready_until_it_has_loaded_a_table",
    "tests/cluster/test_watch_gap.py::"
    "test_a_link_and_a_policy_deleted_during_a_watch_gap_are_forgotten",
}

#: Modules whose every test is in `LOCAL_ONLY`.
ALL_LOCAL_ONLY = ("test_watch_gap.py",)

#: How the cluster tier's conftest prints a deselected test: "<prefix><node id>: <reason>".
LOCAL_ONLY_LINE = re.compile(rf"^{re.escape(cluster_conftest.LOCAL_ONLY_LINE)}(\S+): (.+)$", re.M)


def cluster_modules() -> list[str]:
    """Every test module of the cluster tier, by file name."""
    return sorted(path.name for path in CLUSTER_TIER.glob("test_*.py"))


@pytest.fixture
def without_the_charts_operator(release: Release) -> Iterator[None]:
    deployment = f"deployment/{RELEASE}-operator"
    release.kubectl("scale", "-n", release.namespace, deployment, "--replicas=0")

    def gone() -> None:
        assert release.pods("operator") == []

    eventually(gone, timeout=120, interval=1)
    try:
        yield
    finally:
        release.kubectl("scale", "-n", release.namespace, deployment, f"--replicas={OPERATORS}")
        release.kubectl("rollout", "status", "-n", release.namespace, deployment, "--timeout=300s")


def test_the_cluster_tier_passes_against_the_nodes_api_server(
    release: Release, without_the_charts_operator: None, tmp_path: Path
) -> None:
    report = tmp_path / "junit.xml"
    ignored = " ".join(f"--ignore={CLUSTER_TIER / name}" for name in NOT_ON_THE_NODE)
    result = make(
        "test-external",
        f"KUBECONFIG={release.plane.kubeconfig}",
        f"EXTERNAL_TESTS={CLUSTER_TIER}",
        f"PYTEST_ARGS=-p no:cacheprovider --basetemp={tmp_path / 'basetemp'} "
        f"--junitxml={report} -rA {ignored}",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    # The run really was against the node, not a local control plane.
    assert f"SHORTLINK_TEST_KUBECONFIG={release.plane.kubeconfig}" in output, output[-5000:]
    # Exactly the local-only tests were deselected, each with a reason.
    deselected = dict(LOCAL_ONLY_LINE.findall(output))
    assert set(deselected) == LOCAL_ONLY, deselected
    assert all(reason.strip() for reason in deselected.values()), deselected
    cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314 - our own run's report
    outcomes: Counter[tuple[str, str]] = Counter()
    for case in cases:
        module = case.attrib["classname"].rsplit(".", 1)[-1]
        tags = {child.tag for child in case} & {"skipped", "failure", "error"}
        outcome = tags.pop() if tags else "passed"
        outcomes[module, outcome] += 1
    assert {outcome for _, outcome in outcomes} == {"passed"}, outcomes
    # Every module ran (and so passed), but those left out for cost and those whose every test
    # is local only.
    ran = {module for module, _ in outcomes}
    missing = {name for name in cluster_modules() if Path(name).stem not in ran}
    assert missing == {*NOT_ON_THE_NODE, *ALL_LOCAL_ONLY}, missing


def make(*args: str) -> subprocess.CompletedProcess[str]:
    cache = str(default_cache_dir())
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        env=dict(os.environ, SHORTLINK_CACHE=cache),
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
