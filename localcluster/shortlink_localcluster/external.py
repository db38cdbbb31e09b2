"""An existing cluster, reached through a kubeconfig, for running the cluster tier against it.

`SHORTLINK_TEST_KUBECONFIG=<path>` selects it (tests/cluster/conftest.py). It gives what the tests
use of a local `ControlPlane` (`ClusterAccess`) and starts or stops nothing of the cluster's.

The source kubeconfig's current context is flattened (`kubectl config view --minify --flatten`)
into a file under `workdir`, so every client (kubectl, helm, the operator and redirector processes,
`admin_client`) reads the same single cluster, user and context with certificates inline, and
tests may rewrite it as they do a local control plane's. Limited users for RBAC tests come from
ServiceAccount tokens (the TokenRequest API, `kubectl create token`): `write_kubeconfig` pairs such
a token with this cluster's address and CA, which works on any cluster, unlike static tokens.
"""

import base64
import json
import os
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from shortlink_localcluster.access import write_token_kubeconfig
from shortlink_localcluster.stack import kubectl_binary


class ExternalClusterError(RuntimeError):
    pass


@dataclass
class ExternalCluster:
    """The cluster of `source`'s current context; local files (logs, certificates) in `workdir`."""

    source: Path
    workdir: Path
    _config: dict[str, Any] = field(default_factory=dict)

    def connect(self) -> None:
        """`read()` the kubeconfig and check that the API server answers."""
        self.read()
        readyz = subprocess.run(
            [kubectl_binary(), "get", "--raw", "/readyz"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if readyz.returncode != 0:
            raise ExternalClusterError(
                f"the API server of {self.source} is not ready: {readyz.stderr}"
            )

    def read(self) -> None:
        """Flatten `source`'s current context into `kubeconfig`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        result = subprocess.run(
            [kubectl_binary(), "config", "view", "--minify", "--flatten", "--raw", "-o", "json"],
            env=dict(os.environ, KUBECONFIG=str(self.source)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise ExternalClusterError(f"cannot read kubeconfig {self.source}: {result.stderr}")
        self._config = json.loads(result.stdout)
        self.kubeconfig.write_text(yaml.safe_dump(self._config, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    @property
    def server(self) -> str:
        server: str = self._cluster["server"]
        return server

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def _cluster(self) -> dict[str, Any]:
        if not self._config:
            raise ExternalClusterError("connect() first")
        cluster: dict[str, Any] = self._config["clusters"][0]["cluster"]
        return cluster

    @property
    def _user(self) -> dict[str, Any]:
        user: dict[str, Any] = self._config["users"][0]["user"]
        return user

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(kubeconfig or self.kubeconfig))

    def write_kubeconfig(self, path: Path, *, user: str, token: str) -> Path:
        return write_token_kubeconfig(
            path, name="shortlink-external", cluster=self._cluster, user=user, token=token
        )

    def admin_client(self, **options: Any) -> httpx.AsyncClient:
        """An async HTTP client with the kubeconfig user's bearer token or client certificate.

        Credential plugins (`exec`, `auth-provider`) are kubectl's business: a kubeconfig that
        needs one is refused here with that said, rather than sending unauthenticated requests.
        """
        user = self._user
        headers: dict[str, str] = {}
        context = self._ssl_context()
        if "token" in user:
            headers["Authorization"] = f"Bearer {user['token']}"
        elif "tokenFile" in user:
            headers["Authorization"] = f"Bearer {Path(user['tokenFile']).read_text().strip()}"
        elif "client-certificate-data" in user:
            certificate = self._write("client.crt", user["client-certificate-data"])
            key = self._write("client.key", user["client-key-data"])
            context.load_cert_chain(certificate, key)
        else:
            raise ExternalClusterError(
                f"the user of {self.source} has no token or client certificate "
                f"({', '.join(sorted(user)) or 'nothing'}); give the tests a kubeconfig with one"
            )
        return httpx.AsyncClient(base_url=self.server, headers=headers, verify=context, **options)

    def _ssl_context(self) -> ssl.SSLContext:
        cluster = self._cluster
        if cluster.get("insecure-skip-tls-verify"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if "certificate-authority-data" in cluster:
            return ssl.create_default_context(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
            )
        return ssl.create_default_context()

    def _write(self, name: str, data: str) -> Path:
        path = self.workdir / name
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(data))
        return path
