"""What tests and tools need of a cluster's API server, whoever runs it.

A local `ControlPlane` (started here) and an `ExternalCluster` (an existing one, reached through a
kubeconfig) both give it, so the stack, the bulk helpers and the cluster tier run against either.
Stopping or restarting the API server is not part of it: only a local control plane can.
"""

from pathlib import Path
from typing import Any, Protocol

import httpx


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
