"""Propagation: from the API server accepting a ShortLink update to the redirector serving it.

The operator and a redirector run as processes on the local control plane, next to a table of
existing links. Each of the updates changes one link's URL through the API (an HTTP PATCH, timed
from when the API server answered), then a poller asks the redirector until it answers with the
new target.
"""

import json
import ssl
import statistics
import time
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
        server, token, context = _admin(control_plane)
        target = "link-00000"
        # Measure a settled operator, not one still writing its first thousand statuses.
        # Measure a settled operator, not one still writing its first thousand statuses.
        # (kubectl wait --all watches objects one by one: far too slow for a thousand.)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            listing = kubectl(control_plane, "get", "shortlinks", "-n", namespace, "--no-headers")
            if listing.stdout.count("Published") >= existing:
                break
            time.sleep(1)
        api = httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        redirector = httpx.Client(base_url=stack.base_url, timeout=5)
        latencies = []
        for i in range(updates):
            url = f"https://example.com/updated/{i}"
            response = api.patch(
                f"{server}/apis/shortlink.dev/v1alpha1/namespaces/{namespace}/shortlinks/{target}",
                content=json.dumps({"spec": {"url": url}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            response.raise_for_status()
            accepted = time.perf_counter()
            deadline = accepted + 10
            while redirector.get(f"/{target}").headers.get("location") != url:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"update {i} not served within 10 s")
                time.sleep(0.001)
            latencies.append((time.perf_counter() - accepted) * 1000)
        latencies.sort()
        return {
            "existing_links": existing,
            "updates": updates,
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
            "max_ms": round(latencies[-1], 1),
        }
    finally:
        stack.stop()
