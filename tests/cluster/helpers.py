"""Helpers for cluster tests: kubectl in a test's namespace, waiting, and following a short URL."""

import json
import secrets
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from shortlink_localcluster.access import ClusterAccess
from shortlink_localcluster.stack import Stack, kubectl

T = TypeVar("T")


def eventually(probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call `probe` until it returns; re-raise its last failure on timeout.

    A failed assertion is "not yet", and so is a lookup or unpacking of what is not there yet (a
    missing key, an empty query result): a probe that reads before the first write must wait, not
    fail at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (AssertionError, LookupError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


def shortlink(name: str, url: str, **spec: Any) -> str:
    body = {"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLink", "metadata": {"name": name}}
    body["spec"] = {"url": url, **spec}
    return json.dumps(body)


def follow(stack: Stack, slug: str) -> tuple[int, str | None]:
    """GET the short URL without following it: (status, Location)."""
    response = httpx.get(f"{stack.base_url}/{slug}", follow_redirects=False, timeout=5)
    return response.status_code, response.headers.get("location")


def served(stack: Stack, slug: str, url: str, code: int = 302, timeout: float = 10.0) -> None:
    """Wait until `slug` redirects to `url` with `code`."""

    def check() -> None:
        assert follow(stack, slug) == (code, url)

    eventually(check, timeout=timeout)


def not_served(stack: Stack, slug: str, timeout: float = 10.0) -> None:
    def check() -> None:
        assert follow(stack, slug)[0] == 404

    eventually(check, timeout=timeout)


def terminating_namespaces(control_plane: ClusterAccess) -> list[str]:
    """Namespaces being deleted. External mode deletes each test's namespaces without waiting, so
    their links are still leaving the cluster, and every operator's table, for a while after."""
    listed = json.loads(kubectl(control_plane, "get", "namespaces", "-o", "json").stdout)
    return [
        item["metadata"]["name"]
        for item in listed["items"]
        if item.get("status", {}).get("phase") == "Terminating"
    ]


def no_namespace_leaving(control_plane: ClusterAccess) -> None:
    """Wait until no namespace is being deleted (at once on a local control plane)."""

    def check() -> None:
        leaving = terminating_namespaces(control_plane)
        assert not leaving, f"namespaces still being deleted: {leaving}"

    eventually(check, timeout=180, interval=1)


def table_shards(cluster: "Cluster", stack: Stack) -> list[dict[str, Any]]:
    """The routing-table ConfigMaps of `stack`'s operator, as the API returns them."""
    listing = cluster.kubectl(
        "get",
        "configmaps",
        "-l",
        "shortlink.dev/routing-table=true",
        "-o",
        "json",
        namespace=stack.namespace,
    )
    items: list[dict[str, Any]] = json.loads(listing.stdout)["items"]
    return items


class Cluster:
    """kubectl for one test, with a namespace of its own (more on demand)."""

    def __init__(self, control_plane: ClusterAccess, *, prefix: str) -> None:
        self.control_plane = control_plane
        self._prefix = "".join(c if c.isalnum() else "-" for c in prefix.lower())[:40].strip("-")
        #: Every namespace this test created (the first is `namespace`).
        self.namespaces: list[str] = []
        #: Cluster-scoped objects ("<resource>/<name>") this test created for itself; deleted
        #: after it on an external cluster, as its namespaces are.
        self.cluster_scoped: list[str] = []
        self.namespace = self.new_namespace()

    def new_namespace(self) -> str:
        name = f"{self._prefix}-{secrets.token_hex(3)}"
        self.kubectl("create", "namespace", name, namespace=None)
        self.namespaces.append(name)
        return name

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, namespace: str | None = ""
    ) -> subprocess.CompletedProcess[str]:
        scope = () if namespace is None else ("-n", namespace or self.namespace)
        return kubectl(self.control_plane, *scope, *args, stdin=stdin, check=check)

    def apply(
        self, manifest: str, *, namespace: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", stdin=manifest, check=check, namespace=namespace)

    def get(self, kind: str, name: str, *, namespace: str = "") -> dict[str, Any]:
        result = self.kubectl("get", kind, name, "-o", "json", namespace=namespace)
        loaded: dict[str, Any] = json.loads(result.stdout)
        return loaded

    def ready(self, name: str, *, namespace: str = "") -> dict[str, Any]:
        """The `Ready` condition of ShortLink `name` (an empty dict before there is one)."""
        status = self.get("shortlink", name, namespace=namespace).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition["type"] == "Ready":
                return dict(condition)
        return {}

    def wait_reason(
        self, name: str, reason: str, *, namespace: str = "", timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until ShortLink `name` has `Ready` with `reason`; return the condition."""

        def check() -> dict[str, Any]:
            condition = self.ready(name, namespace=namespace)
            assert condition.get("reason") == reason, condition
            return condition

        return eventually(check, timeout=timeout)
