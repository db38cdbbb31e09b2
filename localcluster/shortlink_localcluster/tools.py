"""Tools the chart tests need, from the Go module proxy: helm, and third-party CRDs.

helm is built once per pinned version and cached beside kube-apiserver. The CRDs of the kinds the
chart can render besides its own (Gateway API's HTTPRoute, prometheus-operator's ServiceMonitor
and PrometheusRule) ship inside those projects' Go modules; they are read from the module cache,
so the local API server can validate the chart's optional objects without a copy in this
repository.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

HELM_MODULE: Final = "helm.sh/helm/v3"
HELM_VERSION: Final = "v3.22.0"
GATEWAY_API: Final = ("sigs.k8s.io/gateway-api", "v1.4.1")
PROMETHEUS_OPERATOR: Final = ("github.com/prometheus-operator/prometheus-operator", "v0.85.0")


class ToolError(RuntimeError):
    pass


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolError("Go is needed to build helm and fetch CRDs; install it and run again")
    return go


def ensure_helm(cache_dir: Path) -> Path:
    """Return the path of the pinned helm, building it from the Go module proxy if needed."""
    binary = cache_dir / "bin" / f"helm-{HELM_VERSION}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    print(f"building helm {HELM_VERSION} from the Go module proxy (first run only, ~2 min)")
    with tempfile.TemporaryDirectory(dir=binary.parent) as gobin:
        stamp = f"-X {HELM_MODULE}/internal/version.version={HELM_VERSION}"
        result = subprocess.run(
            [
                _go(),
                "install",
                "-trimpath",
                "-ldflags",
                f"-s -w {stamp}",
                f"{HELM_MODULE}/cmd/helm@{HELM_VERSION}",
            ],
            cwd=gobin,
            env=dict(os.environ, GOBIN=gobin, CGO_ENABLED="0"),
            check=False,
        )
        if result.returncode != 0:
            raise ToolError(f"go install of helm {HELM_VERSION} failed ({result.returncode})")
        Path(gobin, "helm").rename(binary)
    return binary


def go_module_dir(module: str, version: str) -> Path:
    """The read-only directory of `module@version` in the Go module cache (downloaded if needed)."""
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            [_go(), "mod", "download", "-json", f"{module}@{version}"],
            cwd=outside_any_module,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise ToolError(f"go mod download {module}@{version} failed:\n{result.stdout}")
    return Path(json.loads(result.stdout)["Dir"])


def third_party_crds() -> list[Path]:
    """The CRD files of the optional kinds the chart renders: HTTPRoute, ServiceMonitor, ..."""
    gateway = go_module_dir(*GATEWAY_API) / "config" / "crd" / "standard"
    monitoring = go_module_dir(*PROMETHEUS_OPERATOR) / "example" / "prometheus-operator-crd"
    files = [
        gateway / "gateway.networking.k8s.io_httproutes.yaml",
        monitoring / "monitoring.coreos.com_servicemonitors.yaml",
        monitoring / "monitoring.coreos.com_prometheusrules.yaml",
    ]
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        raise ToolError(f"the pinned modules no longer ship {missing}")
    return files


def main() -> None:
    """`make chart-tools`: build helm and fetch the CRD modules before the tests need them."""
    cache = Path(os.environ.get("SHORTLINK_CACHE", Path(__file__).resolve().parents[2] / ".cache"))
    print(ensure_helm(cache.resolve()))
    for path in third_party_crds():
        print(path)


if __name__ == "__main__":
    main()
