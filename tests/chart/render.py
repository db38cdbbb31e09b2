"""Rendering the Helm chart with the pinned helm, for the chart tests of both tiers.

The monitoring switches read files that the chart may not carry yet (the dashboard and the rules
file); `chart_copy` puts a copy of the chart in a temporary folder and adds small fixtures for the
ones missing, so every switch can be rendered without committing stand-ins into the chart.
"""

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from shortlink_localcluster.build import pinned_kubernetes_version
from shortlink_localcluster.stack import REPO
from shortlink_localcluster.tools import default_cache_dir, ensure_helm

CHART: Final = REPO / "charts" / "shortlink"
FIXTURES: Final = Path(__file__).parent / "fixtures"
MONITORING_FILES: Final = {
    "files/dashboards/shortlink.json": FIXTURES / "shortlink.json",
    "files/alerts/shortlink.rules.yaml": FIXTURES / "shortlink.rules.yaml",
}

#: Every switch of the chart on, and the one behind each optional object.
EVERY_SWITCH: Final[dict[str, Any]] = {
    "ingress": {"enabled": True, "className": "nginx", "tls": [{"hosts": ["shortlink.local"]}]},
    "httpRoute": {"enabled": True, "parentRefs": [{"name": "public", "namespace": "gateways"}]},
    "networkPolicy": {"enabled": True},
    "monitoring": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
}


@functools.cache
def helm() -> str:
    return str(ensure_helm(default_cache_dir()))


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if args[0] in ("template", "lint"):  # offline, helm assumes an old Kubernetes: say ours
        args = (*args, "--kube-version", pinned_kubernetes_version())
    result = subprocess.run(
        [helm(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def chart_copy(destination: Path, *, monitoring_files: bool = True) -> Path:
    """A copy of the chart; with `monitoring_files`, fixtures stand in for missing files."""
    chart = destination / "shortlink"
    shutil.copytree(CHART, chart)
    if monitoring_files:
        for relative, fixture in MONITORING_FILES.items():
            target = chart / relative
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(fixture, target)
    return chart


def values_file(directory: Path, values: Mapping[str, Any]) -> Path:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(dict(values)))
    return path


def render(
    chart: Path,
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "shortlink",
    namespace: str = "shortlink-system",
) -> list[dict[str, Any]]:
    """`helm template` the chart; the objects it renders."""
    args = ["template", release, str(chart), "--namespace", namespace]
    # The values go to a folder of their own, never beside the chart: that may be the source tree.
    with tempfile.TemporaryDirectory(prefix="shortlink-values-") as directory:
        if values:
            args += ["--values", str(values_file(Path(directory), values))]
        output = run_helm(*args).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, pod template) of every workload the chart renders, and its bare pods (the
    `helm test` pod) as they are."""
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield obj["metadata"]["name"], obj["spec"]["template"]
        elif obj["kind"] == "Pod":
            yield obj["metadata"]["name"], obj
