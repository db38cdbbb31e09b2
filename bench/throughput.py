"""Redirect throughput and latency, the redirector against nginx, side by side in one run.

Both servers get the same table (N links) and the same load: wrk on the other core, one thread,
64 connections by default, a random existing slug per request. The redirector runs once per
variant (per-link counting and the visit log on and off); nginx serves the table as a `map` with
`return 302`. The ratio redirector/nginx is what travels between machines; absolute numbers on a
shared 2-core machine do not.
"""

import dataclasses
import time
from pathlib import Path
from typing import Any

from bench import tables, wrk
from bench.servers import start_nginx, start_redirector
from shortlink_localcluster.controlplane import ControlPlane, free_port
from shortlink_localcluster.processes import Process

SERVER_CORE, LOAD_CORE = 0, 1
#: Where the table is published (also served by the mixed-load run, see `mixed`).
NAMESPACE = "bench-throughput"


def rss_mb(pid: int) -> float:
    """Resident memory of the server (taskset replaces itself with it, keeping the pid)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(
    control_plane: ControlPlane,
    workdir: Path,
    *,
    links: int,
    seconds: float,
    connections: list[int],
    variants: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    routes = tables.synthetic_routes(links)
    namespace = NAMESPACE
    started = time.monotonic()
    tables.publish(control_plane, routes, namespace=namespace, shards=64)
    publish_seconds = time.monotonic() - started
    paths = workdir / "paths.txt"
    tables.write_paths(routes, paths)
    tables.write_nginx_map(routes, workdir / "map.conf")

    results: dict[str, Any] = {
        "links": links,
        "seconds": seconds,
        "table_publish_seconds": round(publish_seconds, 1),
        "runs": [],
    }
    servers: list[tuple[str, Process, int]] = []
    port = free_port()
    servers.append(("nginx", start_nginx(workdir, port=port, core=SERVER_CORE), port))
    for name, extra in variants.items():
        port = free_port()
        load_started = time.monotonic()
        process = start_redirector(
            control_plane,
            namespace=namespace,
            port=port,
            metrics_port=free_port(),
            core=SERVER_CORE,
            extra=extra,
            log=workdir / f"redirector-{name}.log",
        )
        results.setdefault("redirector_ready_seconds", {})[name] = round(
            time.monotonic() - load_started, 2
        )
        results.setdefault("redirector_rss_mb", {})[name] = rss_mb(process.pid)
        servers.append((f"redirector ({name})", process, port))
    try:
        for count in connections:
            for name, _, port in servers:
                url = f"http://127.0.0.1:{port}"
                wrk.run(
                    url, paths=paths, connections=count, seconds=2, core=LOAD_CORE, workdir=workdir
                )  # warm up
                load = wrk.run(
                    url,
                    paths=paths,
                    connections=count,
                    seconds=seconds,
                    core=LOAD_CORE,
                    workdir=workdir,
                )
                results["runs"].append(
                    {"server": name, "connections": count, **dataclasses.asdict(load)}
                )
                print(
                    f"  {name:<36} c={count:<4} {load.requests_per_second:>9,.0f} req/s  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  errors {load.errors + load.bad_status}",
                    flush=True,
                )
    finally:
        for _, process, _ in servers:
            process.stop()
    return results
