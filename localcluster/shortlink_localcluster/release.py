"""The chart installed with helm on the node (`node`), as the README's "Install with Helm" says.

Shared by the node tier (`tests/node`) and the all-replica propagation benchmark (`bench/node.py`):
images built from this repository, the node beside its control plane, prometheus-operator's CRDs,
and the release in a namespace where Pod Security "restricted" is enforced, with 3 redirector and
2 operator replicas and its ServiceMonitors and PrometheusRule on.
"""

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.node import (
    Node,
    check_host,
    create_network,
    delete_network,
    node_control_plane,
)
from shortlink_localcluster.stack import REPO, KubectlError, kubectl
from shortlink_localcluster.tools import ensure_helm, third_party_crds

IMAGE_TAG: Final = "node-tier"  # the tag `make node-deps` builds
NAMESPACE: Final = "shortlink-system"
RELEASE: Final = "shortlink"
REDIRECTORS: Final = 3
OPERATORS: Final = 2


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

    def redirector_urls(self) -> list[str]:
        """Each redirector pod's own address (reachable from this machine through the bridge)."""
        return [f"http://{pod['status']['podIP']}:8080" for pod in self.pods("redirector")]

    def service_ip(self, name: str) -> str:
        ip: str = self.get("service", "-n", self.namespace, name)["spec"]["clusterIP"]
        return ip


def build_images() -> None:
    subprocess.run([str(REPO / "hack/build-images.sh"), IMAGE_TAG], check=True, cwd=REPO)


@contextlib.contextmanager
def installed(workdir: Path, cache: Path) -> Iterator[Release]:
    """Build the images, start the node and install the chart; stop everything on exit."""
    check_host()
    build_images()
    helm = ensure_helm(cache)
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
            _apply_crd(plane, crd)
        node.start()
        release = Release(plane=plane, node=node, helm=helm)
        install(release)
        yield release
    finally:
        node.stop()
        plane.stop()
        delete_network()


def _apply_crd(plane: ControlPlane, crd: Path) -> None:
    """Apply a CRD, again if the connection drops: an API server that has just started on a busy
    machine has cut one ("http2: client connection lost")."""
    for attempt in range(5):
        result = kubectl(plane, "apply", "--server-side", "-f", str(crd), check=False)
        if result.returncode == 0:
            return
        if "Unable to connect to the server" not in result.stderr or attempt == 4:
            raise KubectlError(result)
        time.sleep(2)


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
    if installed.returncode != 0:
        raise RuntimeError(f"helm install failed:\n{installed.stderr}\n{release.node.logs_tail()}")
    # `--wait` saw the Deployments available; pods being replaced may still be listed.
    deadline = time.monotonic() + 60
    while (len(release.pods("redirector")), len(release.pods("operator"))) != (
        REDIRECTORS,
        OPERATORS,
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the release's pods did not settle at their replica counts")
        time.sleep(1)


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
