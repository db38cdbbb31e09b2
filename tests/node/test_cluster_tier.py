"""The cluster tier against the node: `make test-external` runs `EXTERNAL_SUBSET` of `tests/cluster`
in external mode (`SHORTLINK_TEST_KUBECONFIG`), through the node control plane's kubeconfig, as a
user runs it against any cluster.

The chart's operator runs on the node cluster-wide, and the cluster tier starts an operator of its
own: two operators would both write every ShortLink's status. So the chart's operator Deployment
is scaled to 0 for the run and back to its replicas after it, before the other node tests. The
chart's redirectors keep running: they only read the release's own table, which the tier's
operator (in a system namespace of its own) never writes.
"""

import os
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlink_localcluster.release import OPERATORS, RELEASE, Release
from shortlink_localcluster.stack import REPO
from tests.cluster.helpers import eventually

#: The modules run against the node: links served and updated, the CRD's schema and validation,
#: the link features, and the kubectl plugin (whose RBAC tests use ServiceAccount tokens).
EXTERNAL_SUBSET = (
    "tests/cluster/test_links.py",
    "tests/cluster/test_crd.py",
    "tests/cluster/test_link_features.py",
    "tests/cluster/test_plugin.py",
)


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
    result = make(
        "test-external",
        f"KUBECONFIG={release.plane.kubeconfig}",
        f"EXTERNAL_TESTS={' '.join(EXTERNAL_SUBSET)}",
        f"PYTEST_ARGS=-p no:cacheprovider --basetemp={tmp_path / 'basetemp'} "
        f"--junitxml={report} -rA",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    # The run really was against the node, not a local control plane.
    assert f"SHORTLINK_TEST_KUBECONFIG={release.plane.kubeconfig}" in output, output[-5000:]
    cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314 - our own run's report
    outcomes: Counter[tuple[str, str]] = Counter()
    for case in cases:
        module = case.attrib["classname"].rsplit(".", 1)[-1]
        tags = {child.tag for child in case} & {"skipped", "failure", "error"}
        outcome = tags.pop() if tags else "passed"
        outcomes[module, outcome] += 1
    for path in EXTERNAL_SUBSET:
        assert outcomes[Path(path).stem, "passed"] > 0, outcomes
    assert {outcome for _, outcome in outcomes} == {"passed"}, outcomes


def make(*args: str) -> subprocess.CompletedProcess[str]:
    cache = os.environ.get("SHORTLINK_CACHE", str(REPO / ".cache"))
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        env=dict(os.environ, SHORTLINK_CACHE=cache),
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
