"""Propagation: from the API server accepting a ShortLink update to the redirectors serving it.

`measure`: the operator and a redirector run as processes on the local control plane, next to a
table of existing links. Each of the updates changes one link's URL through the API (an HTTP PATCH,
timed from when the API server answered), then a poller asks the redirector until it answers with
the new target. `time_updates` is that loop for any number of redirectors (`bench/node.py` times
every replica of the chart on the node).
"""

import json
import ssl
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx
import yaml

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack, kubectl


def _admin(control_plane: ControlPlane) -> tuple[str, str, ssl.SSLContext]:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    return (
        cluster["server"],
        token,
        ssl.create_default_context(cafile=cluster["certificate-authority"]),
    )


def measure(control_plane: ControlPlane, *, existing: int, updates: int) -> dict[str, Any]:
    stack = Stack(control_plane, namespace="bench-propagation-system")
    namespace = "bench-propagation"
    kubectl(control_plane, "create", "namespace", namespace, check=False)
    items = [
        {
            "apiVersion": "shortlink.dev/v1alpha1",
            "kind": "ShortLink",
            "metadata": {"name": f"link-{i:05d}"},
            "spec": {"url": f"https://example.com/{i}"},
        }
        for i in range(existing)
    ]
    for start in range(0, len(items), 500):
        kubectl(
            control_plane,
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            stdin=json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": items[start : start + 500]}
            ),
        )
    stack.start()
    try:
        target = "link-00000"
        # Measure a settled operator, not one still writing its first thousand statuses.
        # (kubectl wait --all watches objects one by one: far too slow for a thousand.)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            listing = kubectl(control_plane, "get", "shortlinks", "-n", namespace, "--no-headers")
            if listing.stdout.count("Published") >= existing:
                break
            time.sleep(1)
        timed = time_updates(control_plane, namespace, target, [stack.base_url], updates=updates)
        return {"existing_links": existing, **timed}
    finally:
        stack.stop()


def time_updates(
    control_plane: ControlPlane,
    namespace: str,
    name: str,
    redirectors: Sequence[str],
    *,
    updates: int,
) -> dict[str, Any]:
    """Change ShortLink `name`'s URL `updates` times, one after another; time each from the API
    server's answer until every one of `redirectors` (base URLs) answers with the new target."""
    server, token, context = _admin(control_plane)
    api = httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # A new connection per request would time connection set-up; keep one per redirector.
    clients = [httpx.Client(base_url=base, timeout=5) for base in redirectors]
    latencies = []
    try:
        for i in range(updates):
            url = f"https://example.com/updated/{i}"
            response = api.patch(
                f"{server}/apis/shortlink.dev/v1alpha1/namespaces/{namespace}/shortlinks/{name}",
                content=json.dumps({"spec": {"url": url}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            response.raise_for_status()
            accepted = time.perf_counter()
            deadline = accepted + 10
            waiting = list(clients)
            while waiting:
                waiting = [c for c in waiting if c.get(f"/{name}").headers.get("location") != url]
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"update {i} not served by every redirector within 10 s")
                if waiting:
                    time.sleep(0.001)
            latencies.append((time.perf_counter() - accepted) * 1000)
    finally:
        for client in [api, *clients]:
            client.close()
    latencies.sort()
    return {
        "redirectors": len(redirectors),
        "updates": updates,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 1),
        "max_ms": round(latencies[-1], 1),
    }
