"""The scale benchmark: N ShortLinks (default 100,000) on a local control plane of its own.

Starts kube-apiserver and etcd, the CRDs and the operator (as `make run` does, no redirector),
creates the links through the API with a few concurrent requests, and measures:

- time to a complete table (every link in the routing table) and to every link Ready,
- the restart time (operator stopped and started over unchanged links, until its first pass) and
  the writes that restart made (should be none),
- API writes per link (from the API server's own request counters, minus the benchmark's creates),
- the operator's RSS (current and peak), and the largest shard in bytes.

Prints the results and writes them as JSON to `.cache/bench/scale-<N>.json`.
`python bench/scale.py --links 1000` is a quick smoke run.
"""

import argparse
import asyncio
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from shortlink_localcluster import bulk
from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.processes import Process
from shortlink_localcluster.stack import REPO, Stack, install_crds, kubectl

NAMESPACE = "bench"


def wait_for(what: str, probe: Callable[[], bool], *, timeout: float, interval: float) -> float:
    """Seconds until `probe()` holds (polled every `interval`)."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


def rss_mib(process: Process) -> tuple[float, float]:
    """(current, peak) resident memory of `process` in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def writes(control_plane: ControlPlane) -> float:
    """Writes served by the API server so far, excluding leases (a standing cost, not per link)."""
    counts = asyncio.run(bulk.api_writes(control_plane))
    return sum(v for k, v in counts.items() if not k.endswith("leases"))


def published_once(stack: Stack) -> bool:
    try:
        return (
            httpx.get(stack.operator_health_url, timeout=2).json().get("lastPublished") is not None
        )
    except (httpx.HTTPError, ValueError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=3600, help="per phase, in seconds")
    args = parser.parse_args()
    count = args.links
    cache = Path(os.environ.get("SHORTLINK_CACHE", REPO / ".cache"))
    workdir = cache / "bench" / "run"  # kept after the run: the processes' logs are in logs/
    shutil.rmtree(workdir, ignore_errors=True)
    control_plane = ControlPlane(workdir=workdir, kube_apiserver=ensure_kube_apiserver(cache))
    control_plane.start()
    stack = Stack(control_plane, operator_args=("--shards", str(args.shards)))
    try:
        install_crds(control_plane)
        kubectl(control_plane, "create", "namespace", stack.namespace)
        kubectl(control_plane, "create", "namespace", NAMESPACE)
        stack.start_operator()
        results = run(control_plane, stack, count, args.timeout)
    finally:
        stack.stop()
        control_plane.stop()
    results["shards"] = args.shards
    out = cache / "bench" / f"scale-{count}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:32} {value}")
    print(f"written to {out}")


def run(control_plane: ControlPlane, stack: Stack, count: int, timeout: float) -> dict[str, float]:
    assert stack.operator is not None
    writes_before = writes(control_plane)
    started = time.monotonic()
    asyncio.run(bulk.create_links(control_plane, NAMESPACE, count, prefix="b"))
    created = time.monotonic() - started

    def table_complete() -> bool:
        shards = asyncio.run(bulk.table(control_plane, stack.namespace))
        return len(bulk.routes(shards)) == count

    def all_ready() -> bool:
        return asyncio.run(bulk.readiness(control_plane, NAMESPACE)).reasons == {"Published": count}

    wait_for("a complete table", table_complete, timeout=timeout, interval=2)
    table_seconds = time.monotonic() - started
    wait_for("every link Ready", all_ready, timeout=timeout, interval=5)
    ready_seconds = time.monotonic() - started
    time.sleep(5)  # let the last status writes come back through the watch
    operator_writes = writes(control_plane) - writes_before - count  # minus our own creates
    rss, peak = rss_mib(stack.operator)

    shards = asyncio.run(bulk.table(control_plane, stack.namespace))
    largest = max(len(data.get("routes.json", "").encode()) for data in shards.values())
    before_restart = writes(control_plane)
    stack.operator.stop()
    restart_started = time.monotonic()
    stack.start_operator()
    wait_for(
        "the first pass after a restart",
        lambda: published_once(stack),
        timeout=timeout,
        interval=0.2,
    )
    restart_seconds = time.monotonic() - restart_started
    time.sleep(5)
    restart_writes = writes(control_plane) - before_restart
    return {
        "links": count,
        "create_seconds": round(created, 1),
        "complete_table_seconds": round(table_seconds, 1),
        "all_ready_seconds": round(ready_seconds, 1),
        "restart_seconds": round(restart_seconds, 1),
        "restart_writes": restart_writes,
        "operator_writes_per_link": round(operator_writes / count, 3),
        "operator_rss_mib": round(rss, 1),
        "operator_peak_rss_mib": round(peak, 1),
        "largest_shard_bytes": largest,
    }


if __name__ == "__main__":
    main()
