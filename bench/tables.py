"""A synthetic routing table of N links, served the same way by the redirector and by nginx."""

import json
import random
from pathlib import Path

from shortlink_core.api import MANIFEST_LABEL_VALUE, MANIFEST_NAME, TABLE_LABEL
from shortlink_core.link import Link
from shortlink_core.table import Route, encode_manifest, split_into_shards
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import kubectl

_WORDS = ("docs", "team", "wiki", "plan", "dash", "oncall", "design", "api", "blog", "release")


def synthetic_routes(count: int, *, seed: int = 7) -> list[Route]:
    """`count` links with go-link-like slugs and ~70-byte targets, as in facts.md."""
    rng = random.Random(seed)
    routes = []
    for i in range(count):
        slug = f"{rng.choice(_WORDS)}-{i:06d}"
        url = f"https://intranet.example.com/{rng.choice(_WORDS)}/{i:06d}/overview?src=golink"
        routes.append(Route(slug=slug, link=Link(url=url, slug=slug), namespace="bench", name=slug))
    return routes


def publish(
    control_plane: ControlPlane, routes: list[Route], *, namespace: str, shards: int
) -> None:
    """Write the table's shards, then its manifest, as the operator would, through the API."""
    table = split_into_shards(routes, shards)
    objects = [(name, data, "true") for name, data in table.items()]
    objects.append((MANIFEST_NAME, encode_manifest(table), MANIFEST_LABEL_VALUE))
    items = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {TABLE_LABEL: label},
            },
            "data": data,
        }
        for name, data, label in objects
    ]
    kubectl(control_plane, "create", "namespace", namespace, check=False)
    for item in items:  # one at a time: a List of 15 MB would be one huge request
        kubectl(control_plane, "apply", "--server-side", "-f", "-", stdin=json.dumps(item))


#: Request mixes. `uniform`: every link of the table once per cycle, in a shuffled order, so the
#: whole table is requested (no cache-friendly sample). `zipf`: slugs drawn with Zipf's law
#: (s = 1) over a shuffled ranking, as real traffic is skewed towards a few popular links.
SCENARIOS = ("uniform", "zipf")
ZIPF_REQUESTS = 500_000


def write_paths(routes: list[Route], path: Path, *, scenario: str, seed: int = 11) -> None:
    """Request paths for wrk, one per line; wrk walks them in order and starts over."""
    rng = random.Random(seed)
    slugs = [route.slug for route in routes]
    rng.shuffle(slugs)
    if scenario == "zipf":
        weights = [1 / rank for rank in range(1, len(slugs) + 1)]
        slugs = rng.choices(slugs, weights=weights, k=ZIPF_REQUESTS)
    elif scenario != "uniform":
        raise ValueError(f"unknown scenario {scenario!r}")
    path.write_text("".join(f"/{slug}\n" for slug in slugs))


def write_nginx_map(routes: list[Route], path: Path) -> None:
    path.write_text("".join(f'/{route.slug} "{route.link.url}";\n' for route in routes))


def write_tsv(routes: list[Route], path: Path) -> None:
    """The table for the Go peer: `slug<TAB>url` lines."""
    path.write_text("".join(f"{route.slug}\t{route.link.url}\n" for route in routes))
