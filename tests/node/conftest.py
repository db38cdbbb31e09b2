"""The node tier: the chart installed with helm, from images built from this repository, on a
real kubelet node (`shortlink_localcluster.node`) beside a local control plane, started once per
session. It needs root, a Docker engine (started here if missing) and Go; `make test` provides
them. The release runs in a namespace where Pod Security "restricted" is enforced, with 3
redirector and 2 operator replicas and its ServiceMonitors and PrometheusRule on.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.node import (
    Node,
    check_host,
    create_network,
    delete_network,
    node_control_plane,
)
from shortlink_localcluster.stack import REPO, kubectl
from shortlink_localcluster.tools import ensure_helm, third_party_crds
from tests.cluster.helpers import eventually

IMAGE_TAG: Final = "node-tier"  # the tag `make node-deps` builds
NAMESPACE: Final = "shortlink-system"
RELEASE: Final = "shortlink"
REDIRECTORS: Final = 3
OPERATORS: Final = 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/node/" in str(item.path):
            item.add_marker(pytest.mark.node)
            # The first test also starts the node and installs the chart (and, unless `make
            # node-deps` ran first, builds the images and the node's programs).
            item.add_marker(pytest.mark.timeout(1800))


@dataclass
class Release:
    """The chart installed on the node, and how to reach it."""

    plane: ControlPlane
    node: Node
    helm: Path
    namespace: str = NAMESPACE

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return kubectl(self.plane, *args, stdin=stdin, check=check).stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def helm_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.helm), *args],
            env=self.plane.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def pods(self, component: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
        items: list[dict[str, Any]] = self.get("pods", "-n", self.namespace, "-l", selector)[
            "items"
        ]
        return [pod for pod in items if "deletionTimestamp" not in pod["metadata"]]

    def service_ip(self, name: str) -> str:
        ip: str = self.get("service", "-n", self.namespace, name)["spec"]["clusterIP"]
        return ip


def build_images() -> None:
    subprocess.run([str(REPO / "hack/build-images.sh"), IMAGE_TAG], check=True, cwd=REPO)


# Package scope: the node and its pods stop when the node tier is done, not at the end of the
# whole session, so the tiers after it do not run beside a busy node.
@pytest.fixture(scope="package")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    check_host()
    cache = Path(os.environ.get("SHORTLINK_CACHE", REPO / ".cache"))
    build_images()
    helm = ensure_helm(cache)
    workdir = tmp_path_factory.mktemp("node")
    plane = node_control_plane(workdir / "control-plane", ensure_kube_apiserver(cache))
    node = Node(
        workdir=workdir / "node",
        cache=cache,
        plane=plane,
        images=(f"shortlink-operator:{IMAGE_TAG}", f"shortlink-redirector:{IMAGE_TAG}"),
    )
    node.lock()
    try:
        create_network()
        plane.start()
        # prometheus-operator's CRDs (the chart's own CRDs come with `helm install`).
        for crd in third_party_crds(cache):
            kubectl(plane, "apply", "--server-side", "-f", str(crd))
        node.start()
        found = Release(plane=plane, node=node, helm=helm)
        install(found)
        yield found
    finally:
        node.stop()
        plane.stop()
        delete_network()


def install(release: Release) -> None:
    """`helm install` as the README's "Install with Helm" says, in a restricted namespace."""
    release.kubectl("create", "namespace", release.namespace)
    release.kubectl(
        "label", "namespace", release.namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    installed = release.helm_run(
        "install",
        RELEASE,
        str(REPO / "charts/shortlink"),
        "--namespace",
        release.namespace,
        "--wait",
        "--timeout",
        "5m",
        *helm_values(),
    )
    assert installed.returncode == 0, installed.stderr + "\n" + str(release.node.logs_tail())

    def all_ready() -> None:
        assert len(release.pods("redirector")) == REDIRECTORS
        assert len(release.pods("operator")) == OPERATORS

    eventually(all_ready, timeout=60, interval=1)


def helm_values() -> list[str]:
    values = {
        "operator.image.tag": IMAGE_TAG,
        "operator.image.pullPolicy": "Never",
        "operator.replicaCount": str(OPERATORS),
        "redirector.image.tag": IMAGE_TAG,
        "redirector.image.pullPolicy": "Never",
        "redirector.autoscaling.enabled": "false",
        "redirector.replicaCount": str(REDIRECTORS),
        "monitoring.serviceMonitor.enabled": "true",
        "monitoring.prometheusRule.enabled": "true",
    }
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On a failed node test, show the last lines of the node's component logs."""
    report = yield
    release = item.funcargs.get("release") if hasattr(item, "funcargs") else None
    if call.when == "call" and getattr(report, "failed", False) and isinstance(release, Release):
        for name, tail in release.node.logs_tail(30).items():
            report.sections.append((f"{name} log", tail))  # type: ignore[attr-defined]
    return report
