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
            f"## Redirects: {throughput['links']:,} links, random existing slugs, {throughput['seconds']:.0f} s per run",
            "",
            "| server | connections | req/s | ratio to nginx | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        nginx = {
            run["connections"]: run["requests_per_second"]
            for run in throughput["runs"]
            if run["server"] == "nginx"
        }
        for run in throughput["runs"]:
            ratio = (
                run["requests_per_second"] / nginx[run["connections"]]
                if nginx.get(run["connections"])
                else 0
            )
            lines.append(
                f"| {run['server']} | {run['connections']} | {run['requests_per_second']:,.0f} | {ratio:.2f} | "
                f"{run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['errors'] + run['bad_status']} |"
            )
        ready = ", ".join(
            f"{name}: {seconds} s"
            for name, seconds in throughput.get("redirector_ready_seconds", {}).items()
        )
        rss = ", ".join(
            f"{name}: {mb} MB" for name, mb in throughput.get("redirector_rss_mb", {}).items()
        )
        lines += [
            "",
            f"Redirector start to ready with the whole table loaded: {ready}.",
            f"Redirector resident memory with the table loaded: {rss}.",
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
    for name, value in results.items():
        if name.startswith("scale"):
            lines += [f"## {name}", "", "```", *(f"{k}: {v}" for k, v in value.items()), "```", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=120)
    servers = sorted({run["server"] for run in results["throughput"]["runs"]})
    for server in servers:
        runs = sorted(
            (r for r in results["throughput"]["runs"] if r["server"] == server),
            key=lambda r: r["connections"],
        )
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
