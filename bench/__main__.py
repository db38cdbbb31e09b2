"""`make bench`: throughput against nginx and a Go peer, with unknown slugs, propagation and scale.

Results go to `.cache/bench/results.json`, a Markdown summary to `.cache/bench/summary.md` and a
plot of latency over load to `.cache/bench/latency.png`; `--publish` also copies the summary and
the plot to `docs/performance/`, which the README quotes.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import machine, mixed, propagation, report, tables, throughput
from shortlink_localcluster.stack import REPO, started_control_plane
from shortlink_localcluster.tools import default_cache_dir

#: Redirector configurations measured against nginx: the default (per-link counting and the visit
#: log on), without the visit log, and without per-link series (every link in the overflow series).
VARIANTS: dict[str, tuple[str, ...]] = {
    "default: per-link counting + visit log": (),
    "per-link counting, no visit log": ("--no-visit-log",),
    "no per-link series, no visit log": ("--max-link-series", "0", "--no-visit-log"),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[64, 256],
        help="connection counts measured in every round and scenario",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    parser.add_argument(
        "--curve",
        type=int,
        nargs="*",
        default=[1, 8, 32, 64, 128, 256],
        help="connection counts for the latency plot (once, every link in turn)",
    )
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument(
        "--publish", action="store_true", help="copy summary and plot to docs/performance"
    )
    args = parser.parse_args()

    cache = default_cache_dir()
    out = cache / "bench"
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine.describe()}
    with (
        tempfile.TemporaryDirectory(prefix="shortlink-bench-") as tmp,
        started_control_plane(Path(tmp) / "control-plane") as control_plane,
    ):
        workdir = Path(tmp)
        print(
            f"throughput: {args.links:,} links, {args.rounds} rounds, {args.seconds:.0f} s per run",
            flush=True,
        )
        results["throughput"] = throughput.measure(
            control_plane,
            workdir,
            cache,
            links=args.links,
            seconds=args.seconds,
            rounds=args.rounds,
            connections=sorted(set(args.connections)),
            curve=args.curve,
            variants=VARIANTS,
        )
        print(f"mixed load: 1 % unknown slugs, {args.links:,} links", flush=True)
        results["mixed"] = mixed.measure(
            control_plane,
            workdir,
            namespace=throughput.NAMESPACE,
            routes=tables.synthetic_routes(args.links),
            seconds=args.seconds,
        )
        print(f"propagation: {args.updates} updates", flush=True)
        results["propagation"] = propagation.measure(
            control_plane, existing=1000, updates=args.updates
        )
        print(
            f"  p50 {results['propagation']['p50_ms']} ms  p99 {results['propagation']['p99_ms']} ms  max {results['propagation']['max_ms']} ms"
        )
    # The scale benchmark (bench/scale.py, run first by `make bench`) writes results of its own.
    for scale in sorted(out.glob("scale-*.json"), key=lambda p: int(p.stem.split("-")[1])):
        results[f"scale: {int(scale.stem.split('-')[1]):,} links"] = json.loads(scale.read_text())
    # So does the create-rate benchmark (bench/create_rate.py, run after it).
    if (out / "create-rate.json").exists():
        results["create_rate"] = json.loads((out / "create-rate.json").read_text())
    (out / "results.json").write_text(json.dumps(results, indent=2))
    summary = report.summary(results)
    (out / "summary.md").write_text(summary)
    report.plot(results, out / "latency.png")
    print(summary)
    if args.publish:
        docs = REPO / "docs" / "performance"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "summary.md", docs / "summary.md")
        shutil.copy(out / "latency.png", docs / "latency.png")


if __name__ == "__main__":
    main()
