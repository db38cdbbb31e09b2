"""What a ShortLink's validation costs at creation: ShortLinks against ConfigMaps of the same size.

A local control plane of its own, with the CRDs installed and nothing else running (no operator:
this is the API server's own cost, the OpenAPI schema and the CEL rules of the CRD). Each round
creates `--count` ShortLinks and `--count` ConfigMaps whose JSON bodies are the same size, with the
same concurrency, in a fresh namespace each; which kind goes first alternates between rounds. The
ratio (ShortLink creates per second over ConfigMap creates per second) is taken within a round
and reported as min/median/max over the rounds. Goal: at least 0.8.

Prints the results and writes them as JSON to `.cache/bench/create-rate.json`.
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shortlink_core.api import API_VERSION
from shortlink_localcluster import bulk
from shortlink_localcluster.access import ClusterAccess
from shortlink_localcluster.stack import kubectl, started_control_plane
from shortlink_localcluster.tools import default_cache_dir

CONCURRENCY = 24


def shortlinks(count: int, prefix: str) -> Iterator[dict[str, Any]]:
    """Links as users declare them: a URL, a slug, an owner and a description."""
    for index in range(count):
        yield {
            "apiVersion": API_VERSION,
            "kind": "ShortLink",
            "metadata": {"name": f"{prefix}-{index}"},
            "spec": {
                "url": bulk.bulk_url(prefix, index),
                "slug": f"{prefix}-{index}",
                "owner": "team-docs@example.com",
                "description": "The team's handbook, section " + str(index),
            },
        }


def configmaps_like(links: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A ConfigMap for each link, its body padded to the same number of bytes."""
    for link in links:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": link["metadata"]["name"]},
            "data": {"padding": ""},
        }
        body["data"]["padding"] = "x" * (len(json.dumps(link)) - len(json.dumps(body)))
        yield body


def seconds_to_create(
    cluster: ClusterAccess, path: str, bodies: Iterator[Mapping[str, Any]]
) -> float:
    started = time.monotonic()
    asyncio.run(bulk.create_objects(cluster, path, bodies, concurrency=CONCURRENCY))
    return time.monotonic() - started


def measure(cluster: ClusterAccess, *, count: int, rounds: int) -> dict[str, Any]:
    runs: list[dict[str, float]] = []
    for round_ in range(rounds):
        namespaces = {kind: f"create-{kind}-{round_}" for kind in ("shortlink", "configmap")}
        for namespace in namespaces.values():
            kubectl(cluster, "create", "namespace", namespace)
        prefix = f"r{round_}"
        work = {
            "shortlink": (bulk.links_path(namespaces["shortlink"]), shortlinks(count, prefix)),
            "configmap": (
                f"/api/v1/namespaces/{namespaces['configmap']}/configmaps",
                configmaps_like(shortlinks(count, prefix)),
            ),
        }
        order = list(work) if round_ % 2 == 0 else list(reversed(work))
        rates = {kind: count / seconds_to_create(cluster, *work[kind]) for kind in order}
        run = {f"{kind}_per_s": round(rate, 1) for kind, rate in rates.items()}
        run["ratio"] = round(rates["shortlink"] / rates["configmap"], 3)
        runs.append(run)
        print(
            f"round {round_ + 1}: {run['shortlink_per_s']:.0f} ShortLinks/s, "
            f"{run['configmap_per_s']:.0f} ConfigMaps/s, ratio {run['ratio']:.2f}",
            flush=True,
        )
    ratios = [run["ratio"] for run in runs]
    return {
        "count": count,
        "rounds": runs,
        "ratio": {
            "min": min(ratios),
            "median": round(statistics.median(ratios), 3),
            "max": max(ratios),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="objects of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-create-") as tmp,
        started_control_plane(Path(tmp) / "control-plane") as cluster,
    ):
        results = measure(cluster, count=args.count, rounds=args.rounds)
    out = default_cache_dir() / "bench" / "create-rate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    ratio = results["ratio"]
    print(
        f"ShortLink/ConfigMap create rate: min {ratio['min']:.2f}, median {ratio['median']:.2f}, "
        f"max {ratio['max']:.2f} (goal >= 0.8); written to {out}"
    )


if __name__ == "__main__":
    main()
