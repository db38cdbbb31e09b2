"""The Markdown summary and the latency-over-load plot of a bench run."""

from pathlib import Path
from typing import Any


def summary(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# shortlink performance",
        "",
        f"Measured {machine['date']} on {machine['cpu']} ({machine['cores']} cores), Python "
        f"{machine['python']}, {machine['nginx']}, {machine['wrk']}. Servers pinned to one core, "
        "wrk to the other.",
        "",
    ]
    throughput = results.get("throughput")
    if throughput:
        lines += [
            f"## Redirects: {throughput['links']:,} links, {throughput['rounds']} interleaved rounds, {throughput['seconds']:.0f} s per run",
            "",
            "`uniform`: every link of the table in turn (shuffled); `zipf`: a Zipf (s = 1) mix. "
            "Ratios are taken within a round and given as min / median / max over the rounds.",
            "",
            "| scenario | connections | server | req/s (median) | ratio to nginx | ratio to Go peer | p99 ms (median / max) | p99.9 ms (max) | max ms | errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in throughput["ratios"]:
            lines.append(
                f"| {row['scenario']} | {row['connections']} | {row['server']} | {row['req_per_s_median']:,} | "
                f"{_spread(row.get('to_nginx'))} | {_spread(row.get('to_gopeer'))} | "
                f"{row['p99_ms_median']:.2f} / {row['p99_ms_max']:.2f} | {row['p999_ms_max']:.2f} | "
                f"{row['max_ms']:.1f} | {row['errors']} |"
            )
        ready = ", ".join(
            f"{name}: {seconds} s"
            for name, seconds in throughput.get("redirector_ready_seconds", {}).items()
        )
        rss = ", ".join(
            f"{name}: {mb['loaded']} MB loaded, {mb['after_load']} MB after the load"
            for name, mb in throughput.get("rss_mb", {}).items()
        )
        swaps = throughput.get("swaps")
        if swaps:
            lines += [
                "",
                f"`uniform, alone`: {swaps['server']} with every other server stopped; with `a "
                f"change every {swaps['every_seconds']:.0f} s`, one link's URL changes through "
                "the API that often (its shard, then the manifest), so the redirector builds and "
                "swaps in a new table under load (changes made per run: "
                f"{', '.join(map(str, swaps['changes_made']))}).",
            ]
        lines += [
            "",
            f"Redirector start to ready with the whole table loaded: {ready}.",
            "",
            f"Resident memory: {rss}.",
            "",
        ]
        empty = throughput.get("redirector_empty_rss_mb")
        if empty:
            per_link = {
                name: (mb["loaded"] - empty) * 2**20 / throughput["links"]
                for name, mb in throughput["rss_mb"].items()
                if name.startswith("redirector")
            }
            lines += [
                f"A redirector with an empty table: {empty} MB; each link adds "
                + ", ".join(f"{bytes_:,.0f} bytes ({name})" for name, bytes_ in per_link.items())
                + ".",
                "",
            ]
    mixed = results.get("mixed")
    if mixed:
        lines += [
            f"## Redirects with {mixed['unknown_share']:.0%} unknown slugs (plain 404s, no budget)",
            "",
            f"One redirector, {mixed['connections']} connections, {mixed['seconds']:.0f} s per run, "
            f"alternated: pure {', '.join(f'{r:,.0f}' for r in mixed['runs']['pure'])} req/s; "
            f"mixed {', '.join(f'{r:,.0f}' for r in mixed['runs']['mixed'])} req/s; "
            f"**mixed/pure {mixed['ratio']}** (medians; goal ≥ 0.95).",
            "",
        ]
    propagation = results.get("propagation")
    if propagation:
        lines += [
            "## Propagation: API server accepted the update → the redirector serves it",
            "",
            f"{propagation['updates']} updates next to {propagation['existing_links']:,} links: "
            f"p50 {propagation['p50_ms']} ms, p99 {propagation['p99_ms']} ms, max {propagation['max_ms']} ms.",
            "",
        ]
    create = results.get("create_rate")
    if create:
        lines += [
            "## ShortLink creation against ConfigMaps of the same size (the CRD's validation)",
            "",
            f"{create['count']:,} of each per round, {len(create['rounds'])} interleaved rounds: "
            f"ratio {_spread(create['ratio'])} (min / median / max; goal ≥ 0.8).",
            "",
        ]
    for name, value in results.items():
        if name.startswith("scale"):
            lines += [f"## {name}", "", "```", *(f"{k}: {v}" for k, v in value.items()), "```", ""]
    return "\n".join(lines)


def _spread(ratio: dict[str, float] | None) -> str:
    if not ratio:
        return "—"
    return f"{ratio['min']:.2f} / **{ratio['median']:.2f}** / {ratio['max']:.2f}"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=120)
    # Every link in turn: the curve's own runs and the first round's.
    curve = [
        run
        for run in results["throughput"]["runs"]
        if run["scenario"] == "uniform" and run["round"] in (0, 1)
    ]
    servers = sorted({run["server"] for run in curve})
    for server in servers:
        runs = sorted((r for r in curve if r["server"] == server), key=lambda r: r["connections"])
        axis.plot(
            [r["requests_per_second"] for r in runs],
            [r["p99_ms"] for r in runs],
            marker="o",
            label=f"{server} p99",
        )
        axis.plot(
            [r["requests_per_second"] for r in runs],
            [r["p50_ms"] for r in runs],
            marker=".",
            linestyle="--",
            label=f"{server} p50",
        )
        for run in runs:
            axis.annotate(
                str(run["connections"]), (run["requests_per_second"], run["p99_ms"]), fontsize=7
            )
    axis.set_xlabel("requests per second (labels: connections)")
    axis.set_ylabel("latency, ms")
    axis.set_yscale("log")
    axis.set_title("Redirect latency over load, one core each")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
