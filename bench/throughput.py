"""Redirect throughput and latency: the redirector, nginx and a Go peer, side by side in one run.

Every server gets the same table (N links) and the same load: wrk on the other core, one thread,
the same list of request paths (`tables.SCENARIOS`: every link of the table in turn, or a Zipf
mix). The servers are interleaved: each round measures every server once per scenario and
connection count, in an order rotated from round to round, so drift of the machine (another
tenant, thermal limits) falls on all of them alike. A ratio is taken within a round, against that
round's nginx (the physical limit) and Go peer, and reported as min/median/max over the rounds:
ratios measured side by side are what travel between machines; absolute numbers on a shared
2-core machine do not.
"""

import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import swaps, tables, wrk
from bench.servers import build_gopeer, start_gopeer, start_nginx, start_redirector
from shortlink_core.table import Route
from shortlink_localcluster.controlplane import ControlPlane, free_port
from shortlink_localcluster.processes import Process

SERVER_CORE, LOAD_CORE = 0, 1
NGINX, GOPEER = "nginx", "Go net/http peer"
#: Where the table is published (also served by the mixed-load run, see `mixed`).
NAMESPACE = "bench-throughput"
#: The table-change scenarios, every link in turn to the default redirector alone: without
#: changes, and while one link changes every SWAP_SECONDS (see `measure_swaps`).
ALONE, SWAPPING, SWAP_SECONDS = "uniform, alone", "uniform, alone, a change every 2 s", 2.0


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (nginx's worker), in MB.

    taskset replaces itself with the server, keeping the pid.
    """
    total_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total_kb += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total_kb += round(rss_mb(int(child)) * 1024)
    return round(total_kb / 1024, 1)


def measure(
    control_plane: ControlPlane,
    workdir: Path,
    cache: Path,
    *,
    links: int,
    seconds: float,
    rounds: int,
    connections: list[int],
    curve: list[int],
    variants: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """Rounds over `connections` and every scenario, then one pass over `curve` (uniform)."""
    routes = tables.synthetic_routes(links)
    namespace = NAMESPACE
    started = time.monotonic()
    tables.publish(control_plane, routes, namespace=namespace, shards=64)
    publish_seconds = time.monotonic() - started
    paths = {scenario: workdir / f"paths-{scenario}.txt" for scenario in tables.SCENARIOS}
    for scenario, path in paths.items():
        tables.write_paths(routes, path, scenario=scenario)
    tables.write_nginx_map(routes, workdir / "map.conf")
    tables.write_tsv(routes, workdir / "table.tsv")

    results: dict[str, Any] = {
        "links": links,
        "seconds": seconds,
        "rounds": rounds,
        "table_publish_seconds": round(publish_seconds, 1),
        "runs": [],
        "rss_mb": {},
    }
    results["redirector_empty_rss_mb"] = _empty_redirector_rss(control_plane, workdir)
    servers: list[tuple[str, Process, int]] = []
    port = free_port()
    servers.append((NGINX, start_nginx(workdir, port=port, core=SERVER_CORE), port))
    port = free_port()
    gopeer = start_gopeer(build_gopeer(cache), workdir, port=port, core=SERVER_CORE)
    servers.append((GOPEER, gopeer, port))
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
        servers.append((f"redirector ({name})", process, port))
    for name, process, _ in servers:
        results["rss_mb"][name] = {"loaded": rss_mb(process.pid)}

    def run(name: str, port: int, scenario: str, count: int, round_: int) -> None:
        url = f"http://127.0.0.1:{port}"
        for duration in (2, seconds):  # a short warm-up, then the measured run
            load = wrk.run(
                url,
                paths=paths.get(scenario, paths["uniform"]),
                connections=count,
                seconds=duration,
                core=LOAD_CORE,
                workdir=workdir,
            )
        results["runs"].append(
            {
                "server": name,
                "scenario": scenario,
                "connections": count,
                "round": round_,
                **dataclasses.asdict(load),
            }
        )
        print(
            f"  r{round_} {scenario:<7} {name:<48} c={count:<4} {load.requests_per_second:>9,.0f} req/s  p99 {load.p99_ms:6.2f} ms  p99.9 {load.p999_ms:6.2f} ms  max {load.max_ms:7.2f} ms  errors {load.errors + load.bad_status}",
            flush=True,
        )

    try:
        for round_ in range(1, rounds + 1):
            shift = (round_ - 1) % len(servers)
            order = servers[shift:] + servers[:shift]
            for scenario in tables.SCENARIOS:
                for count in connections:
                    for name, _, port in order:
                        run(name, port, scenario, count, round_)
        for count in sorted(set(curve) - set(connections)):
            for name, _, port in servers:
                run(name, port, "uniform", count, 0)
        for name, process, _ in servers:
            results["rss_mb"][name]["after_load"] = rss_mb(process.pid)
        results["swaps"] = measure_swaps(
            control_plane,
            routes,
            servers,
            run,
            seconds=seconds,
            rounds=rounds,
            count=connections[0],
        )
    finally:
        for _, process, _ in servers:
            process.stop()
    results["ratios"] = ratios(results["runs"])
    return results


def _empty_redirector_rss(control_plane: ControlPlane, workdir: Path) -> float:
    """A redirector's resident memory with an empty table: what a link adds is measured above it."""
    namespace = f"{NAMESPACE}-empty"
    tables.publish(control_plane, [], namespace=namespace, shards=64)
    process = start_redirector(
        control_plane,
        namespace=namespace,
        port=free_port(),
        metrics_port=free_port(),
        core=SERVER_CORE,
        extra=(),
        log=workdir / "redirector-empty.log",
    )
    try:
        return rss_mb(process.pid)
    finally:
        process.stop()


def measure_swaps(
    control_plane: ControlPlane,
    routes: list[Route],
    servers: list[tuple[str, Process, int]],
    run: Callable[[str, int, str, int, int], None],
    *,
    seconds: float,
    rounds: int,
    count: int,
) -> dict[str, Any]:
    """The default redirector alone, with and without a table change every `SWAP_SECONDS`.

    Every other server is stopped first: the other redirectors follow the same table, and their
    rebuilds would take turns on the measured one's core. Runs alternate, the order rotating.
    """
    name, _, port = next(s for s in servers if s[0].startswith("redirector"))
    for other, process, _ in servers:
        if other != name:
            process.stop()
    made = []
    for round_ in range(1, rounds + 1):
        for changing in (False, True) if round_ % 2 else (True, False):
            if not changing:
                run(name, port, ALONE, count, round_)
                continue
            # wrk warms up for 2 s first: changes run through both.
            with swaps.changing(
                control_plane, NAMESPACE, routes, every=SWAP_SECONDS, seconds=seconds + 2
            ) as changes:
                run(name, port, SWAPPING, count, round_)
            made.append(changes.made)
    return {"server": name, "every_seconds": SWAP_SECONDS, "changes_made": made}


def ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per server, scenario and connection count: its ratio to nginx and to the Go peer within
    each round, as min/median/max over the rounds, with the worst tail latencies seen."""
    by_round = {
        (run["scenario"], run["connections"], run["round"], run["server"]): run
        for run in runs
        if run["round"] > 0
    }
    rank = {NGINX: 0, GOPEER: 1}  # the peers first, then the redirector variants
    keys = sorted(
        {(scenario, count, server) for scenario, count, _, server in by_round},
        key=lambda key: (key[0], key[1], rank.get(key[2], 2), key[2]),
    )
    rows = []
    for scenario, count, server in keys:
        mine = [
            (round_, run)
            for (s, c, round_, name), run in by_round.items()
            if (s, c, name) == (scenario, count, server)
        ]
        row: dict[str, Any] = {"server": server, "scenario": scenario, "connections": count}
        for peer, label in ((NGINX, "to_nginx"), (GOPEER, "to_gopeer")):
            values = [
                run["requests_per_second"] / base["requests_per_second"]
                for round_, run in mine
                if (base := by_round.get((scenario, count, round_, peer)))
                and base["requests_per_second"]
            ]
            if values:
                row[label] = {
                    "min": round(min(values), 3),
                    "median": round(statistics.median(values), 3),
                    "max": round(max(values), 3),
                }
        row["req_per_s_median"] = round(
            statistics.median(r["requests_per_second"] for _, r in mine)
        )
        row["p99_ms_median"] = round(statistics.median(r["p99_ms"] for _, r in mine), 2)
        row["p99_ms_max"] = max(r["p99_ms"] for _, r in mine)
        row["p999_ms_max"] = max(r["p999_ms"] for _, r in mine)
        row["max_ms"] = max(r["max_ms"] for _, r in mine)
        row["errors"] = sum(r["errors"] + r["bad_status"] for _, r in mine)
        rows.append(row)
    return rows
