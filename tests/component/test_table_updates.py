"""How the served table follows shard changes: swaps, deletions, and bad shards."""

import httpx
from prometheus_client import generate_latest

from shortlink_core.table import FORMAT_KEY, ROUTES_KEY
from shortlink_redirector.follower import apply_shard, load_all
from shortlink_redirector.state import RedirectorState
from tests.component.conftest import route, shard


async def test_a_changed_shard_is_served_at_once(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a", "https://one.example/"))})
    apply_shard(state, "s-0", shard(route("a", "https://two.example/"), route("b")))
    assert (await client.get("/a")).headers["location"] == "https://two.example/"
    assert (await client.get("/b")).status_code == 302


async def test_a_deleted_shard_takes_only_its_links(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a")), "s-1": shard(route("b"))})
    apply_shard(state, "s-0", {})
    assert (await client.get("/a")).status_code == 404
    assert (await client.get("/b")).status_code == 302


async def test_a_relisting_drops_shards_that_are_gone(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a")), "s-1": shard(route("b"))})
    load_all(state, {"s-1": shard(route("b"))})
    assert (await client.get("/a")).status_code == 404
    assert (await client.get("/b")).status_code == 302


async def test_a_corrupt_shard_keeps_its_last_good_version(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a", "https://good.example/"))})
    apply_shard(state, "s-0", {FORMAT_KEY: "1", ROUTES_KEY: "{not json"})
    apply_shard(state, "s-0", {FORMAT_KEY: "99", ROUTES_KEY: "{}"})
    assert (await client.get("/a")).headers["location"] == "https://good.example/"
    assert (
        "shortlink_table_load_failures_total 2.0"
        in generate_latest(state.metrics.registry).decode()
    )


async def test_counts_survive_a_table_swap(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a", "https://one.example/"))})
    await client.get("/a")
    apply_shard(state, "s-0", shard(route("a", "https://two.example/")))
    await client.get("/a")
    exposition = generate_latest(state.metrics.registry).decode()
    assert 'shortlink_redirects_total{code="302",name="a",namespace="team"} 2.0' in exposition
