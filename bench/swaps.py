"""Table changes during load: one link's URL changed through the API every `every` seconds.

Each change rewrites one shard (the next one in turn) and then the manifest, as the operator
would, so every redirector following the table decodes a shard, builds a new table and swaps it
in while requests are in flight. The shards' new data is encoded before the load starts, so the
driver's own work during the run is one HTTP PATCH per object.
"""

import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx

from bench.propagation import _admin
from shortlink_core.api import MANIFEST_NAME
from shortlink_core.table import Route, encode_manifest, shard_index, split_into_shards
from shortlink_localcluster.controlplane import ControlPlane

SHARDS = 64


@dataclass
class Changes:
    """How many table changes the API server accepted during the run."""

    made: int = 0


def successive_tables(
    routes: list[Route], count: int
) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """`count` successive tables, each with one more link changed: (shard, its data, manifest)."""
    table = split_into_shards(routes, SHARDS)
    by_shard: dict[int, list[Route]] = {}
    for route in routes:
        by_shard.setdefault(shard_index(route.key, SHARDS), []).append(route)
    variants = []
    originals = {index: bucket[0] for index, bucket in by_shard.items()}
    for step, index in zip(range(count), itertools.cycle(sorted(by_shard)), strict=False):
        bucket, first = by_shard[index], originals[index]
        bucket[0] = replace(first, link=replace(first.link, url=f"{first.link.url}&v={step}"))
        name, data = next(iter(split_into_shards(bucket, SHARDS).items()))
        table[name] = data
        variants.append((name, data, encode_manifest(table)))
    return variants


@contextlib.contextmanager
def changing(
    control_plane: ControlPlane,
    namespace: str,
    routes: list[Route],
    *,
    every: float,
    seconds: float,
) -> Iterator[Changes]:
    """Change the table every `every` seconds for up to `seconds`, until the block ends; then
    put it back as `routes` (so a later run's changes are changes again, not rewrites of the
    same bytes, which the API server would not even pass on to the watchers)."""
    original = split_into_shards(routes, SHARDS)
    variants = successive_tables(list(routes), int(seconds / every) + 1)
    server, token, context = _admin(control_plane)
    changes, stop = Changes(), threading.Event()

    def put(client: httpx.Client, name: str, data: dict[str, str]) -> None:
        response = client.patch(
            f"{server}/api/v1/namespaces/{namespace}/configmaps/{name}",
            json={"data": data},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    def run() -> None:
        with httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}) as client:
            for name, data, manifest in variants:
                if stop.wait(every):
                    return
                put(client, name, data)
                put(client, MANIFEST_NAME, manifest)
                changes.made += 1

    thread = threading.Thread(target=run, name="table-changes", daemon=True)
    thread.start()
    try:
        yield changes
    finally:
        stop.set()
        thread.join()
        with httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}) as client:
            for name in {name for name, _, _ in variants[: changes.made]}:
                put(client, name, original[name])
            put(client, MANIFEST_NAME, encode_manifest(original))
