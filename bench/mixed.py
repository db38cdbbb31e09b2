"""Redirect throughput when 1 % of requests are for unknown slugs, against pure redirects.

One redirector (default settings, but without a not-found budget, so every unknown slug gets a
real 404: the worst case) serves the same table under two loads, alternated `rounds` times in one
run: every link of the table in turn (the `uniform` scenario of `tables`), and the same list with
one request in a hundred replaced by a slug that does not exist. wrk sends no Accept header, as curl-like clients do, so a 404 is the plain one. The
ratio mixed/pure is what the goal is stated in (at least 0.95); absolute numbers on a shared
machine do not travel.

Run alone with `python -m bench.mixed` (a control plane of its own), or from `python -m bench`.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import tables, wrk
from bench.servers import start_redirector
from shortlink_core.table import Route
from shortlink_localcluster.controlplane import ControlPlane, free_port
from shortlink_localcluster.stack import started_control_plane

SERVER_CORE, LOAD_CORE = 0, 1
UNKNOWN_SHARE = 0.01


def write_mixed_paths(pure: Path, path: Path, *, seed: int = 13) -> None:
    """The paths of `pure`, with `UNKNOWN_SHARE` of them replaced by slugs nobody created."""
    rng = random.Random(seed)
    lines = pure.read_text().splitlines()
    for i in rng.sample(range(len(lines)), round(len(lines) * UNKNOWN_SHARE)):
        lines[i] = f"/no-such-{rng.getrandbits(40):010x}"
    path.write_text("".join(f"{line}\n" for line in lines))


def measure(
    control_plane: ControlPlane,
    workdir: Path,
    *,
    namespace: str,
    routes: list[Route],
    seconds: float,
    connections: int = 64,
    rounds: int = 3,
) -> dict[str, Any]:
    pure, mixed = workdir / "paths.txt", workdir / "mixed-paths.txt"
    tables.write_paths(routes, pure, scenario="uniform")
    write_mixed_paths(pure, mixed)
    port = free_port()
    process = start_redirector(
        control_plane,
        namespace=namespace,
        port=port,
        metrics_port=free_port(),
        core=SERVER_CORE,
        extra=("--not-found-burst", "0"),
        log=workdir / "redirector-mixed.log",
    )
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, list[float]] = {"pure": [], "mixed": []}
    not_found = 0
    try:
        wrk.run(
            url, paths=pure, connections=connections, seconds=2, core=LOAD_CORE, workdir=workdir
        )
        for _ in range(rounds):
            for name, paths in (("pure", pure), ("mixed", mixed)):
                load = wrk.run(
                    url,
                    paths=paths,
                    connections=connections,
                    seconds=seconds,
                    core=LOAD_CORE,
                    workdir=workdir,
                )
                runs[name].append(load.requests_per_second)
                if name == "mixed":
                    not_found += load.bad_status
                print(
                    f"  {name:<6} {load.requests_per_second:>9,.0f} req/s  p99 {load.p99_ms:6.2f} ms  non-3xx {load.bad_status}",
                    flush=True,
                )
    finally:
        process.stop()
    pure_rps, mixed_rps = statistics.median(runs["pure"]), statistics.median(runs["mixed"])
    ratio = round(mixed_rps / pure_rps, 3)
    print(f"  mixed/pure (medians of {rounds}): {ratio}", flush=True)
    return {
        "connections": connections,
        "seconds": seconds,
        "unknown_share": UNKNOWN_SHARE,
        "runs": runs,
        "not_found_answers": not_found,
        "ratio": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__)
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="shortlink-bench-") as tmp,
        started_control_plane(Path(tmp) / "control-plane") as control_plane,
    ):
        workdir = Path(tmp)
        routes = tables.synthetic_routes(args.links)
        started = time.monotonic()
        tables.publish(control_plane, routes, namespace="bench-mixed", shards=64)
        print(f"{args.links:,} links published in {time.monotonic() - started:.0f} s")
        measure(
            control_plane,
            workdir,
            namespace="bench-mixed",
            routes=routes,
            seconds=args.seconds,
            rounds=args.rounds,
        )


if __name__ == "__main__":
    main()
