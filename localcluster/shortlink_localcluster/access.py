"""What tests and tools need of a cluster's API server, whoever runs it.

A local `ControlPlane` (started here) and an `ExternalCluster` (an existing one, reached through a
kubeconfig) both give it, so the stack, the bulk helpers and the cluster tier run against either.
Stopping or restarting the API server is not part of it: only a local control plane can.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml


class ClusterAccess(Protocol):
    @property
    def server(self) -> str:
        """The API server's URL."""
        ...

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig (one cluster, one user, one context) that authenticates as an admin."""
        ...

    @property
    def logs(self) -> Path:
        """Where processes started against this cluster (operator, redirector) write their logs."""
        ...

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """The environment of a client process: the admin's kubeconfig, or `kubeconfig`."""
        ...

    def admin_client(self, **options: Any) -> httpx.AsyncClient:
        """An async HTTP client for the API server, as the admin."""
        ...

    def write_kubeconfig(self, path: Path, *, user: str, token: str) -> Path:
        """Write a kubeconfig for this cluster that authenticates with a bearer `token`."""
        ...


def write_token_kubeconfig(
    path: Path, *, name: str, cluster: Mapping[str, Any], user: str, token: str
) -> Path:
    """Write a one-cluster, one-user, one-context kubeconfig that authenticates with a bearer
    `token` (readable by its owner only); `cluster` is its `clusters[].cluster` entry."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": dict(cluster)}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": user, "namespace": "default"}}
        ],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
