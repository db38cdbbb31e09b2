"""Builds kube-apiserver from the Go module in `localcluster/kube-apiserver`, once per pin.

The binary is cached under a name derived from the module's go.mod and go.sum, so changing the
pinned release builds a new one and a second run starts in seconds.
"""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

MODULE_DIR: Final = Path(__file__).resolve().parents[1] / "kube-apiserver"
PACKAGE: Final = "k8s.io/kubernetes/cmd/kube-apiserver"


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
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE_DIR / name).read_bytes())
    binary = cache_dir / "bin" / f"kube-apiserver-{digest.hexdigest()[:12]}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise BuildError("Go is needed to build kube-apiserver; install it and run again")
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
    env = dict(os.environ, CGO_ENABLED="0")
    if _go_minor(go) >= 27:
        # Go 1.27's encoding/json v2 experiment breaks the apiserver's /openapi output.
        env["GOEXPERIMENT"] = "nojsonv2"
    partial = binary.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    print(f"building kube-apiserver {version} from the Go module proxy (first run only, ~4 min)")
    result = subprocess.run(
        [go, "build", "-trimpath", "-ldflags", f"-s -w {stamp}", "-o", str(partial), PACKAGE],
        cwd=MODULE_DIR,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"go build of {PACKAGE} failed with exit code {result.returncode}")
    partial.rename(binary)
    return binary


def _go_minor(go: str) -> int:
    output = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True)
    found = re.match(r"go1\.(\d+)", output.stdout.strip())
    return int(found.group(1)) if found else 0
