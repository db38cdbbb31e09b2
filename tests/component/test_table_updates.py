"""How the served table follows the shards and the manifest: swaps, deletions, bad shards, and
readiness only once every shard the manifest lists is served as listed."""

import httpx
from prometheus_client import generate_latest

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.table import FORMAT_KEY, FORMAT_VERSION, ROUTES_KEY, SHARDS_KEY, encode_manifest
from shortlink_redirector.follower import apply_event, apply_shard, load_all, load_listing
from shortlink_redirector.state import RedirectorState
from tests.component.conftest import route, shard


async def test_a_changed_shard_is_served_at_once(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a", "https://one.example/"))})
    apply_shard(state, "s-0", shard(route("a", "https://two.example/"), route("b")))
    assert (await client.get("/a")).headers["location"] == "https://two.example/"
    assert (await client.get("/b")).status_code == 302


async def test_a_deleted_shard_is_served_until_the_manifest_stops_listing_it(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a")), "s-1": shard(route("b"))})
    apply_event(state, "s-0", None)
    assert (await client.get("/a")).status_code == 302
    apply_event(state, MANIFEST_NAME, encode_manifest({"s-1": shard(route("b"))}))
    assert (await client.get("/a")).status_code == 404
    assert (await client.get("/b")).status_code == 302


async def test_a_shard_the_manifest_does_not_list_yet_is_served_at_once(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a"))})
    apply_event(state, "s-1", shard(route("new")))
    assert (await client.get("/new")).status_code == 302
    # The manifest that lists it changes nothing served; one that still does not list it (an
    # older one, re-read) does not take it away while it exists.
    apply_event(state, MANIFEST_NAME, encode_manifest({"s-0": shard(route("a"))}))
    assert (await client.get("/new")).status_code == 302


async def test_a_shard_newer_than_the_manifest_is_served_and_never_regresses(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    old, new = shard(route("a", "https://old.example/")), shard(route("a", "https://new.example/"))
    load_all(state, {"s-0": old})
    apply_event(state, "s-0", new)
    assert (await client.get("/a")).headers["location"] == "https://new.example/"
    assert state.metrics.table_shards_unconfirmed._value.get() == 1
    # A relisting that catches the shard before its manifest: still the newer copy.
    load_listing(state, {"s-0": new, MANIFEST_NAME: encode_manifest({"s-0": old})})
    assert (await client.get("/a")).headers["location"] == "https://new.example/"
    apply_event(state, MANIFEST_NAME, encode_manifest({"s-0": new}))
    assert state.metrics.table_shards_unconfirmed._value.get() == 0
    assert (await client.get("/a")).headers["location"] == "https://new.example/"


async def test_not_ready_until_every_listed_shard_is_served_as_listed(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    good = {"s-0": shard(route("a")), "s-1": shard(route("b"))}
    garbage = {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{not json"}
    load_listing(state, {"s-0": good["s-0"], "s-1": garbage, MANIFEST_NAME: encode_manifest(good)})
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/a")).status_code == 302  # what it has, it serves
    assert state.metrics.table_shards_unconfirmed._value.get() == 1
    apply_event(state, "s-1", good["s-1"])
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/b")).status_code == 302
    assert state.metrics.table_shards_unconfirmed._value.get() == 0


async def test_not_ready_while_a_listed_shard_is_absent_or_another_copy(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    listed = {"s-0": shard(route("a")), "s-1": shard(route("b"))}
    edited = {"s-0": listed["s-0"], "s-1": shard(route("b", "https://edited.example/"))}
    load_listing(state, {"s-0": listed["s-0"], MANIFEST_NAME: encode_manifest(listed)})
    assert (await client.get("/readyz")).status_code == 503
    load_listing(state, {**edited, MANIFEST_NAME: encode_manifest(listed)})
    assert (await client.get("/readyz")).status_code == 503
    apply_event(state, "s-1", listed["s-1"])
    assert (await client.get("/readyz")).status_code == 200


async def test_not_ready_without_a_manifest(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    shards = {"s-0": shard(route("a"))}
    load_listing(state, shards)
    assert (await client.get("/readyz")).status_code == 503
    apply_event(state, MANIFEST_NAME, encode_manifest(shards))
    assert (await client.get("/readyz")).status_code == 200


async def test_once_ready_a_damaged_table_keeps_serving_and_stays_ready(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a")), "s-1": shard(route("b"))})
    apply_event(state, "s-0", {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "[]"})
    apply_event(state, "s-1", None)
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/a")).status_code == 302
    assert (await client.get("/b")).status_code == 302
    assert state.metrics.table_shards_unconfirmed._value.get() == 2


async def test_an_unreadable_or_deleted_manifest_keeps_its_last_listing(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    load_all(state, {"s-0": shard(route("a"))})
    apply_event(state, MANIFEST_NAME, {FORMAT_KEY: FORMAT_VERSION, SHARDS_KEY: "{nope"})
    apply_event(state, MANIFEST_NAME, None)
    apply_event(state, "s-0", None)
    assert (await client.get("/a")).status_code == 302
    load_listing(state, {})  # a relisting without the manifest or the shard
    assert (await client.get("/a")).status_code == 302
    assert (
        "shortlink_table_load_failures_total 1.0"
        in generate_latest(state.metrics.registry).decode()
    )


async def test_a_relisting_keeps_a_listed_shard_that_is_gone(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    shards = {"s-0": shard(route("a")), "s-1": shard(route("b"))}
    load_all(state, shards)
    load_listing(state, {"s-1": shards["s-1"], MANIFEST_NAME: encode_manifest(shards)})
    assert (await client.get("/a")).status_code == 302


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
    apply_shard(state, "s-0", {FORMAT_KEY: FORMAT_VERSION, ROUTES_KEY: "{not json"})
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


async def test_a_relisting_whose_manifest_drops_a_deleted_shard_drops_its_links(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    shards = {"s-0": shard(route("a")), "s-1": shard(route("b"))}
    load_all(state, shards)
    apply_event(state, "s-0", None)  # kept: the manifest lists it
    load_listing(
        state, {"s-1": shards["s-1"], MANIFEST_NAME: encode_manifest({"s-1": shards["s-1"]})}
    )
    assert (await client.get("/a")).status_code == 404
    assert (await client.get("/b")).status_code == 302
