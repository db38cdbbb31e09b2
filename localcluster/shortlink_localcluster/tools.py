"""Tools the chart tests need: helm, and the CRDs of the third-party kinds the chart can render.

helm is built once per pinned version from the Go module proxy and cached beside kube-apiserver.

Besides its own kinds the chart can render Gateway API's HTTPRoute and prometheus-operator's
ServiceMonitor and PrometheusRule. For the local API server to validate those objects, their CRDs
are generated from the projects' Go API types the way each project generates its published ones:
Gateway API's own generator (controller-tools with its standard/experimental channel split; the
standard channel is used) and controller-gen for prometheus-operator's kinds. The Go module
`localcluster/third-party-crds` pins the API modules and both generators. The generators are built
once into `$SHORTLINK_CACHE/bin` and the three CRDs kept in `$SHORTLINK_CACHE/crds/<digest>`,
keyed by that module, so a changed pin generates them anew. The Gateway CRD is kept beside them
(`gateway_api_crds`): the chart renders no Gateway, but the operator follows them. Only Go source
is read from the Go module cache: no YAML file of another project is copied.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from shortlink_localcluster.build import go_build

HELM_MODULE: Final = "helm.sh/helm/v3"
HELM_VERSION: Final = "v3.22.0"
CRD_MODULE: Final = Path(__file__).resolve().parents[1] / "third-party-crds"
CRD_MODULE_FILES: Final = ("go.mod", "go.sum", "crds.go")
GATEWAY_GENERATOR: Final = "sigs.k8s.io/gateway-api/pkg/generator"
CONTROLLER_GEN: Final = "sigs.k8s.io/controller-tools/cmd/controller-gen"
MONITORING_API: Final = "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
# Where the generators write the three CRDs, relative to the module copy they run in.
HTTPROUTE_CRD: Final = Path("config/crd/standard/gateway.networking.k8s.io_httproutes.yaml")
#: Kept beside them though the chart renders no Gateway: the operator follows Gateways (their
#: listeners give an HTTPRoute targetRef its scheme), and the cluster tests create some.
GATEWAY_CRD: Final = Path("config/crd/standard/gateway.networking.k8s.io_gateways.yaml")
MONITORING_OUTPUT: Final = Path("monitoring")
MONITORING_CRDS: Final = (
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
)


class ToolError(RuntimeError):
    pass


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolError("Go is needed to build helm and the CRD generators; install it, run again")
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


def default_cache_dir() -> Path:
    """`$SHORTLINK_CACHE`, or the repository's `.cache` like the Makefile's default (absolute: the
    processes started from it may run elsewhere)."""
    default = Path(__file__).resolve().parents[2] / ".cache"
    return Path(os.environ.get("SHORTLINK_CACHE", default)).resolve()


def third_party_crds(cache_dir: Path) -> list[Path]:
    """The CRD files of the optional kinds the chart renders: HTTPRoute, ServiceMonitor and
    PrometheusRule, in that order, generated from the pinned Go API types on first use."""
    wanted = (HTTPROUTE_CRD, *(MONITORING_OUTPUT / name for name in MONITORING_CRDS))
    digest = hashlib.sha256(" ".join(map(str, wanted)).encode())
    for file in CRD_MODULE_FILES:
        digest.update((CRD_MODULE / file).read_bytes())
    key = digest.hexdigest()[:12]
    crds = cache_dir.resolve() / "crds" / key
    files = [crds / path.name for path in wanted]
    kept = [crds / GATEWAY_CRD.name]
    if all(path.exists() for path in files + kept):
        return files
    gateway_generator = _crd_generator(cache_dir, GATEWAY_GENERATOR, "gateway-api-crd-gen", key)
    controller_gen = _crd_generator(cache_dir, CONTROLLER_GEN, "controller-gen", key)
    print("generating the HTTPRoute, ServiceMonitor and PrometheusRule CRDs from their Go types")
    crds.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=crds.parent) as scratch:
        # The generators load the API packages by import path, so they run inside a copy of the
        # module; Gateway API's generator writes both channels under config/crd/ of its directory.
        module = Path(scratch, "module")
        module.mkdir()
        for file in CRD_MODULE_FILES:
            shutil.copyfile(CRD_MODULE / file, module / file)
        for channel in ("standard", "experimental"):
            (module / "config" / "crd" / channel).mkdir(parents=True)
        _generate([str(gateway_generator)], module)
        _generate(
            [
                str(controller_gen),
                "crd:crdVersions=v1",
                f"paths={MONITORING_API}",
                f"output:crd:dir={module / MONITORING_OUTPUT}",
            ],
            module,
        )
        result = Path(scratch, "crds")
        result.mkdir()
        for path in (*wanted, GATEWAY_CRD):
            if not (module / path).exists():
                raise ToolError(f"the generators wrote no {path}: did a pinned module rename it?")
            shutil.copyfile(module / path, result / path.name)
        try:
            result.rename(crds)
        except OSError:
            if not all(path.exists() for path in files):
                raise
            # Another process generated them first (the same module gives the same files), or
            # an older run kept fewer: add what is missing.
            for path in kept:
                if not path.exists():
                    shutil.copyfile(result / path.name, path)
    return files


def gateway_api_crds(cache_dir: Path) -> list[Path]:
    """The HTTPRoute and Gateway CRDs (the Gateway API kinds a ShortLink's targetRef follows),
    generated with the others."""
    httproute = third_party_crds(cache_dir)[0]
    return [httproute, httproute.with_name(GATEWAY_CRD.name)]


def _crd_generator(cache_dir: Path, package: str, name: str, key: str) -> Path:
    """A generator command of the CRD module, built once per version of the module."""
    binary = cache_dir.resolve() / "bin" / f"{name}-{key}"
    if not binary.exists():
        print(f"building {package} from the Go module proxy (first run only, ~1 min)")
        go_build(package, binary, module=CRD_MODULE)
    return binary


def _generate(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ToolError(f"{command[0]} failed ({result.returncode}):\n{result.stderr}")


def main() -> None:
    """`make chart-tools`: build helm and generate the CRDs before the tests need them."""
    cache = default_cache_dir()
    print(ensure_helm(cache))
    for path in third_party_crds(cache):
        print(path)


if __name__ == "__main__":
    main()
