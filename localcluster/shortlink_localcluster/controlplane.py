"""Starts etcd and kube-apiserver on 127.0.0.1 and writes a kubeconfig for an admin.

The admin authenticates with a static token in the `system:masters` group; authorization is RBAC,
so ServiceAccount tokens (from the TokenRequest API) are held to exactly the roles they are bound
to. The apiserver self-signs its serving certificate in `pki/serving`, and the kubeconfig trusts
that file. The API server can be stopped and started again on the same port, with etcd kept, to
test what clients do while it is away.
"""

import contextlib
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from shortlink_localcluster.access import write_token_kubeconfig
from shortlink_localcluster.processes import Process, wait_until

SERVICE_CLUSTER_IP_RANGE: Final = "10.96.0.0/16"
READY_TIMEOUT: Final = 60.0


class ControlPlaneError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ControlPlane:
    """A local control plane whose state lives under `workdir`."""

    workdir: Path
    kube_apiserver: Path
    etcd: str = field(default_factory=lambda: shutil.which("etcd") or "etcd")
    apiserver_port: int = field(default_factory=free_port)
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    #: Where the API server listens and what it advertises. The node tier puts it on its node's
    #: address, so that pods reach it through the `kubernetes` Service.
    address: str = "127.0.0.1"
    #: Publish the `kubernetes` Service's endpoint (only useful where pods run).
    publish_endpoint: bool = False
    _etcd: Process | None = None
    _apiserver: Process | None = None

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def _pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def serving_ca(self) -> Path:
        """The API server's self-signed serving certificate, which clients (and pods) trust."""
        return self._serving_ca

    @property
    def service_account_key(self) -> Path:
        return self._pki / "service-account.key"

    @property
    def _serving_ca(self) -> Path:
        return self._pki / "serving" / "apiserver.crt"

    def start(self) -> None:
        if shutil.which(self.etcd) is None:
            raise ControlPlaneError(
                "etcd is not installed; `make deps` installs Debian's etcd-server"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        token = self._make_credentials()
        self._start_etcd()
        self.start_apiserver()
        self.write_kubeconfig(self.kubeconfig, user="admin", token=token)

    def stop(self) -> None:
        self.stop_apiserver()
        if self._etcd is not None:
            self._etcd.stop()
            self._etcd = None

    def start_apiserver(self) -> None:
        """Start kube-apiserver (again) on the same port and wait until it is ready."""
        pki = self._pki
        self._apiserver = Process(
            "kube-apiserver",
            [
                str(self.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={self.apiserver_port}",
                f"--cert-dir={pki / 'serving'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'service-account.pub'}",
                f"--service-account-signing-key-file={pki / 'service-account.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # Without a kubelet there is no endpoint to publish for the `kubernetes` service.
                f"--endpoint-reconciler-type={'lease' if self.publish_endpoint else 'none'}",
                # A node's name need not resolve: reach kubelets (logs, exec) by their address.
                "--kubelet-preferred-address-types=InternalIP",
            ],
            log_path=self.logs / "kube-apiserver.log",
        )
        wait_until(
            self._ready,
            timeout=READY_TIMEOUT,
            what="kube-apiserver /readyz",
            interval=0.1,
            alive=[self._apiserver],
        )

    def stop_apiserver(self) -> None:
        if self._apiserver is not None:
            self._apiserver.stop()
            self._apiserver = None

    def _start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        self._etcd = Process(
            "etcd",
            [
                self.etcd,
                "--name=local",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=local={peer}",
                "--log-level=warn",
            ],
            log_path=self.logs / "etcd.log",
        )

    def _make_credentials(self) -> str:
        """Create (once) the service-account key pair and the admin token; return the token."""
        pki = self._pki
        pki.mkdir(parents=True, exist_ok=True)
        key = pki / "service-account.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
            subprocess.run(
                [
                    "openssl",
                    "rsa",
                    "-in",
                    str(key),
                    "-pubout",
                    "-out",
                    str(pki / "service-account.pub"),
                ],
                check=True,
                capture_output=True,
            )
        tokens = pki / "tokens.csv"
        if not tokens.exists():
            tokens.write_text(f'{secrets.token_hex(24)},admin,admin,"system:masters"\n')
            tokens.chmod(0o600)
        return tokens.read_text().split(",", 1)[0]

    def write_kubeconfig(self, path: Path, *, user: str, token: str) -> Path:
        """Write a kubeconfig that authenticates with `token` (an admin's or a ServiceAccount's)."""
        cluster = {"server": self.server, "certificate-authority": str(self._serving_ca)}
        return write_token_kubeconfig(
            path, name="shortlink-local", cluster=cluster, user=user, token=token
        )

    def _ready(self) -> bool:
        if not self._serving_ca.exists():
            return False
        context = ssl.create_default_context(cafile=str(self._serving_ca))
        token = (self._pki / "tokens.csv").read_text().split(",", 1)[0]
        request = urllib.request.Request(  # noqa: S310 - an https URL we built
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {token}"}
        )
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(request, context=context, timeout=2) as response,  # noqa: S310 - https URL we built
        ):
            return bool(response.status == 200)
        return False

    def admin_client(self, **options: Any) -> httpx.AsyncClient:
        """An async HTTP client for the API server, as the admin (for bulk work in tests)."""
        token = (self._pki / "tokens.csv").read_text().split(",", 1)[0]
        return httpx.AsyncClient(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}"},
            verify=ssl.create_default_context(cafile=str(self._serving_ca)),
            **options,
        )

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """The environment a client process needs to reach this control plane (as the admin, or
        as whoever `kubeconfig` authenticates)."""
        return dict(os.environ, KUBECONFIG=str(kubeconfig or self.kubeconfig))
