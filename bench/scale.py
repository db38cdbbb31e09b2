"""The scale benchmark: N ShortLinks (default 100,000) on a local control plane of its own.

Starts kube-apiserver and etcd, the CRDs and the operator (as `make run` does, no redirector),
creates the links through the API with a few concurrent requests, and measures:

- time to a complete table (every link in the routing table) and to every link Ready,
- the time from the last create to every link Ready,
- propagation during the bulk create: a probe link's URL changed every half second while the
  links are being created, timed from the API server's answer until its table shard holds it
  (p50/p99/max),
- the restart time (operator stopped and started over unchanged links, until its first pass, and
  until a link created while it was down is in the table) and the writes that restart made
  (status writes other than the new link's should be none),
- API writes per link (from the API server's own request counters, minus the benchmark's creates),
- the operator's RSS (current and peak), and the largest shard in bytes.

Prints the results and writes them as JSON to `.cache/bench/scale-<N>.json`; `--workdir DIR` puts
the control plane and the processes' logs in DIR instead of `.cache/bench/run`, and the JSON
next to DIR (so two runs at once do not clash).
`python bench/scale.py --links 1000` is a quick smoke run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from shortlink_core.matching import routing_key
from shortlink_core.table import shard_index, shard_name
from shortlink_localcluster import bulk
from shortlink_localcluster.build import ensure_kube_apiserver
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.processes import Process
from shortlink_localcluster.stack import Stack, install_crds, kubectl
from shortlink_localcluster.tools import default_cache_dir

NAMESPACE = "bench"
PROBE = "bench-probe"
#: Created while the operator is down, to time a restart until its first write of a new link.
LATECOMER = "bench-latecomer"


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
    parser.add_argument("--workdir", type=Path, help="default: .cache/bench/run")
    args = parser.parse_args()
    count = args.links
    cache = default_cache_dir()
    # Kept after the run: the processes' logs are in logs/.
    workdir = args.workdir or cache / "bench" / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    control_plane = ControlPlane(workdir=workdir, kube_apiserver=ensure_kube_apiserver(cache))
    control_plane.start()
    stack = Stack(control_plane, operator_args=("--shards", str(args.shards)))
    try:
        install_crds(control_plane)
        kubectl(control_plane, "create", "namespace", stack.namespace)
        kubectl(control_plane, "create", "namespace", NAMESPACE)
        stack.start_operator()
        results = run(control_plane, stack, count, args.timeout, shard_count=args.shards)
    finally:
        stack.stop()
        control_plane.stop()
    results["shards"] = args.shards
    # The machine's load when the run ended (1, 5 and 15 minutes): other jobs slow every phase.
    for minutes, load in zip((1, 5, 15), os.getloadavg(), strict=True):
        results[f"load_average_{minutes}m"] = round(load, 1)
    out = (args.workdir.parent if args.workdir else cache / "bench") / f"scale-{count}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:32} {value}")
    print(f"written to {out}")


def shard_of(slug: str, shard_count: int) -> str:
    return shard_name(shard_index(routing_key("", slug), shard_count))


async def shard_routes(control_plane: ControlPlane, namespace: str, name: str) -> str:
    """The `routes.json` of one routing-table shard ("" while it does not exist)."""
    async with control_plane.admin_client(timeout=30) as client:
        response = await client.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        if response.status_code == 404:
            return ""
        response.raise_for_status()
        return str((response.json().get("data") or {}).get("routes.json", ""))


async def create_probe(control_plane: ControlPlane, name: str) -> None:
    async with control_plane.admin_client(timeout=30) as client:
        body = {
            "apiVersion": "shortlink.dev/v1alpha1",
            "kind": "ShortLink",
            "metadata": {"name": name},
            "spec": {"slug": name, "url": f"https://example.com/{name}/0"},
        }
        (await client.post(bulk.links_path(NAMESPACE), json=body)).raise_for_status()


async def create_and_probe(
    control_plane: ControlPlane, stack: Stack, count: int, *, shard_count: int
) -> tuple[float, list[float]]:
    """Create the links; meanwhile change the probe's URL every half second and time each
    change from the API server's answer until the probe's shard holds it. Returns the seconds
    the creates took and the latencies in ms."""
    shard, probe_key = shard_of(PROBE, shard_count), routing_key("", PROBE)
    path = f"/api/v1/namespaces/{stack.namespace}/configmaps"
    latencies: list[float] = []
    seen: dict[str, float] = {}  # each URL the shard held, when first seen
    async with control_plane.admin_client(timeout=None) as client:

        async def follow() -> None:  # the shard's watch: when each probe URL appeared
            query = {"watch": "1", "fieldSelector": f"metadata.name={shard}"}
            while True:
                async with client.stream("GET", path, params=query) as response:
                    async for line in response.aiter_lines():
                        now = time.perf_counter()
                        data = json.loads(line)["object"].get("data") or {}
                        entry = json.loads(data.get("routes.json", "{}")).get(probe_key, {})
                        seen.setdefault(str(entry.get("url")), now)
                        arrived.set()

        async def probe(done: asyncio.Event) -> None:
            index = 0
            while not done.is_set():
                if watching.done():
                    watching.result()  # the watch failed: say why
                    raise RuntimeError("the watch on the probe's shard ended")
                index += 1
                url = f"https://example.com/{PROBE}/{index}"
                response = await client.patch(
                    f"{bulk.links_path(NAMESPACE)}/{PROBE}",
                    content=json.dumps({"spec": {"url": url}}),
                    headers={"Content-Type": "application/merge-patch+json"},
                )
                response.raise_for_status()
                accepted = time.perf_counter()
                while url not in seen and time.perf_counter() - accepted < 60:
                    arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(arrived.wait(), timeout=1)
                latencies.append((seen.get(url, time.perf_counter()) - accepted) * 1000)
                await asyncio.sleep(0.5)

        arrived = asyncio.Event()
        watching = asyncio.create_task(follow())
        done = asyncio.Event()
        probing = asyncio.create_task(probe(done))
        started = time.monotonic()
        try:
            await bulk.create_links(control_plane, NAMESPACE, count, prefix="b")
            created = time.monotonic() - started
        finally:
            done.set()
            await probing
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
    return created, latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(int(len(ordered) * share) - 1, 0)], 1) if ordered else 0.0


def run(
    control_plane: ControlPlane, stack: Stack, count: int, timeout: float, *, shard_count: int
) -> dict[str, float]:
    assert stack.operator is not None
    asyncio.run(create_probe(control_plane, PROBE))
    probe_shard = shard_of(PROBE, shard_count)
    wait_for(
        "the probe link in the table",
        lambda: PROBE in asyncio.run(shard_routes(control_plane, stack.namespace, probe_shard)),
        timeout=timeout,
        interval=0.2,
    )
    writes_before = writes(control_plane)
    started = time.monotonic()
    created, latencies = asyncio.run(
        create_and_probe(control_plane, stack, count, shard_count=shard_count)
    )
    total = count + 1  # and the probe

    def table_complete() -> bool:
        shards = asyncio.run(bulk.table(control_plane, stack.namespace))
        return len(bulk.routes(shards)) == total

    def all_ready() -> bool:
        return asyncio.run(bulk.readiness(control_plane, NAMESPACE)).reasons == {"Published": total}

    wait_for("a complete table", table_complete, timeout=timeout, interval=2)
    table_seconds = time.monotonic() - started
    wait_for("every link Ready", all_ready, timeout=timeout, interval=5)
    ready_seconds = time.monotonic() - started
    time.sleep(5)  # let the last status writes come back through the watch
    # Minus our own creates and probe updates (each update's status write is the operator's).
    operator_writes = writes(control_plane) - writes_before - count - len(latencies)
    rss, peak = rss_mib(stack.operator)

    shards = asyncio.run(bulk.table(control_plane, stack.namespace))
    largest = max(len(data.get("routes.json", "").encode()) for data in shards.values())
    stack.operator.stop()
    asyncio.run(create_probe(control_plane, LATECOMER))
    late_shard = shard_of(LATECOMER, shard_count)
    before_restart = asyncio.run(bulk.api_writes(control_plane))
    restart_started = time.monotonic()
    stack.start_operator()
    wait_for(
        "the link created while the operator was down, in the table",
        lambda: LATECOMER in asyncio.run(shard_routes(control_plane, stack.namespace, late_shard)),
        timeout=timeout,
        interval=0.1,
    )
    new_link_seconds = time.monotonic() - restart_started  # the operator's start-up included
    wait_for(
        "the first pass after a restart",
        lambda: published_once(stack),
        timeout=timeout,
        interval=0.2,
    )
    restart_seconds = time.monotonic() - restart_started
    time.sleep(5)
    after_restart = asyncio.run(bulk.api_writes(control_plane))
    restart_writes = {
        key: value - before_restart.get(key, 0.0)
        for key, value in after_restart.items()
        if not key.endswith("leases") and value != before_restart.get(key, 0.0)
    }
    return {
        "links": count,
        "create_seconds": round(created, 1),
        "complete_table_seconds": round(table_seconds, 1),
        "all_ready_seconds": round(ready_seconds, 1),
        "all_ready_after_last_create_seconds": round(ready_seconds - created, 1),
        "propagation_during_create_updates": len(latencies),
        "propagation_during_create_p50_ms": round(statistics.median(latencies), 1)
        if latencies
        else 0.0,
        "propagation_during_create_p99_ms": percentile(latencies, 0.99),
        "propagation_during_create_max_ms": percentile(latencies, 1.0),
        "restart_seconds": round(restart_seconds, 1),
        "restart_new_link_in_table_seconds": round(new_link_seconds, 1),
        # The new link's own status is one of them; every other link's should need none.
        "restart_status_writes": restart_writes.get("PATCH shortlinks/status", 0.0),
        "restart_writes": sum(restart_writes.values()),
        "operator_writes_per_link": round(operator_writes / count, 3),
        "operator_rss_mib": round(rss, 1),
        "operator_peak_rss_mib": round(peak, 1),
        "largest_shard_bytes": largest,
    }


if __name__ == "__main__":
    main()
