"""Builds the Kubernetes components from the Go module in `localcluster/kubernetes-components`,
once per pin. (Its directory name is no Python identifier on purpose: `localcluster` is on
`sys.path`, and a directory named `kubernetes` there would shadow the `kubernetes` client library.)

kube-apiserver serves the local control plane; kubelet, kube-controller-manager, kube-scheduler
and kube-proxy make the node of the node tier (`shortlink_localcluster.node`), with its pause
program, CoreDNS (`localcluster/coredns-build`) and crictl. Each binary is
cached under a name derived from the module's go.mod and go.sum, so changing the pinned release
builds new ones, and a second run starts in seconds. The builds share Go's build cache, so the
second component builds much faster than the first.
"""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

MODULE_DIR: Final = Path(__file__).resolve().parents[1] / "kubernetes-components"
COREDNS_DIR: Final = Path(__file__).resolve().parents[1] / "coredns-build"
COMPONENTS: Final = (
    "kube-apiserver",
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)


class BuildError(RuntimeError):
    pass


def pinned_kubernetes_version() -> str:
    """The `k8s.io/kubernetes` release the module requires, e.g. `v1.36.3`."""
    found = re.search(
        r"^\s*(?:require\s+)?k8s\.io/kubernetes (v\S+)", (MODULE_DIR / "go.mod").read_text(), re.M
    )
    if not found:
        raise BuildError(f"{MODULE_DIR / 'go.mod'} does not require k8s.io/kubernetes")
    return found.group(1)


def ensure_kube_apiserver(cache_dir: Path) -> Path:
    """Return the path of a kube-apiserver built from the pinned module, building it if needed."""
    return ensure_component(cache_dir, "kube-apiserver")


def ensure_component(cache_dir: Path, name: str) -> Path:
    """Return the path of Kubernetes component `name` (one of `COMPONENTS`), built if needed."""
    if name not in COMPONENTS:
        raise BuildError(f"unknown Kubernetes component {name!r}")
    digest = hashlib.sha256()
    for file in ("go.mod", "go.sum"):
        digest.update((MODULE_DIR / file).read_bytes())
    binary = cache_dir / "bin" / f"{name}-{digest.hexdigest()[:12]}"
    if binary.exists():
        return binary
    version = pinned_kubernetes_version()
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = " ".join(
        f"-X k8s.io/component-base/version.{key}={value}"
        for key, value in {
            "gitVersion": version,
            "gitMajor": major,
            "gitMinor": minor,
            "gitTreeState": "clean",
        }.items()
    )
    print(f"building {name} {version} from the Go module proxy (first run only, ~4 min)")
    go_build(f"k8s.io/kubernetes/cmd/{name}", binary, ldflags=stamp)
    return binary


def ensure_pause(cache_dir: Path) -> Path:
    """Return the path of the node's pod sandbox program (`kubernetes-components/pause`)."""
    source = (MODULE_DIR / "pause" / "main.go").read_bytes()
    binary = cache_dir / "bin" / f"pause-{hashlib.sha256(source).hexdigest()[:12]}"
    if not binary.exists():
        go_build("./pause", binary)
    return binary


def ensure_coredns(cache_dir: Path) -> Path:
    """Return the path of CoreDNS with the node tier's plugins (`localcluster/coredns-build`)."""
    digest = hashlib.sha256()
    for file in ("go.mod", "go.sum", "main.go"):
        digest.update((COREDNS_DIR / file).read_bytes())
    binary = cache_dir / "bin" / f"coredns-{digest.hexdigest()[:12]}"
    if not binary.exists():
        print("building CoreDNS from the Go module proxy (first run only, ~2 min)")
        go_build(".", binary, module=COREDNS_DIR)
    return binary


def ensure_go_install(cache_dir: Path, package: str, version: str) -> Path:
    """Return the path of `go install package@version` (e.g. CoreDNS), built once per version."""
    binary = cache_dir / "bin" / f"{package.rsplit('/', 1)[-1]}-{version}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {package}@{version} from the Go module proxy (first run only)")
    with tempfile.TemporaryDirectory(dir=binary.parent) as gobin:
        result = subprocess.run(
            [_go(), "install", "-trimpath", "-ldflags", "-s -w", f"{package}@{version}"],
            cwd=gobin,
            env=dict(os.environ, GOBIN=gobin, CGO_ENABLED="0"),
            check=False,
        )
        if result.returncode != 0:
            raise BuildError(f"go install {package}@{version} failed ({result.returncode})")
        Path(gobin, binary.name.rsplit("-", 1)[0]).rename(binary)
    return binary


def go_build(package: str, binary: Path, *, ldflags: str = "", module: Path = MODULE_DIR) -> None:
    """Build `package` of the Go module in directory `module` into `binary` (static, stripped)."""
    go = _go()
    env = dict(os.environ, CGO_ENABLED="0")
    if _go_minor(go) >= 27:
        # Go 1.27's encoding/json v2 experiment breaks the apiserver's /openapi output.
        env["GOEXPERIMENT"] = "nojsonv2"
    partial = binary.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-trimpath", "-ldflags", f"-s -w {ldflags}", "-o", str(partial), package],
        cwd=module,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"go build of {package} failed with exit code {result.returncode}")
    partial.rename(binary)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError("Go is needed to build the Kubernetes components; install it, run again")
    return go


def _go_minor(go: str) -> int:
    output = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True)
    found = re.match(r"go1\.(\d+)", output.stdout.strip())
    return int(found.group(1)) if found else 0
