"""The redirector app in-process: redirects, not-found pages, probes, methods and counting."""

import json

import httpx
import pytest
from prometheus_client import generate_latest

from shortlink_core.table import ROUTES_KEY
from shortlink_redirector.follower import apply_shard, load_all
from shortlink_redirector.state import RedirectorState
from tests.component.conftest import route, shard


@pytest.fixture(autouse=True)
def table(state: RedirectorState) -> None:
    load_all(
        state,
        {
            "s-0": shard(
                route("docs", "https://example.com/docs?x=1"), route("perm", "https://e.org/", 301)
            ),
            "s-1": shard(
                route("temp", "https://e.org/t", 307), route("move", "https://e.org/m", 308)
            ),
        },
    )


async def test_get_redirects_with_the_links_code_and_location(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/docs?x=1"
    assert response.content == b""


@pytest.mark.parametrize(("slug", "code"), [("perm", 301), ("temp", 307), ("move", 308)])
async def test_every_redirect_code_is_served(
    client: httpx.AsyncClient, slug: str, code: int
) -> None:
    assert (await client.get(f"/{slug}")).status_code == code


async def test_head_answers_like_get(client: httpx.AsyncClient) -> None:
    response = await client.head("/docs")
    assert (response.status_code, response.headers["location"]) == (
        302,
        "https://example.com/docs?x=1",
    )


async def test_permanent_redirects_are_cacheable_and_temporary_ones_are_not(
    client: httpx.AsyncClient,
) -> None:
    assert "max-age" in (await client.get("/perm")).headers["cache-control"]
    assert (await client.get("/docs")).headers["cache-control"] == "private, no-store"
    assert (await client.get("/docs")).headers["x-robots-tag"] == "noindex"


async def test_unknown_slug_is_plain_text_404_for_api_clients(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope", headers={"accept": "*/*"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


async def test_unknown_slug_is_a_small_html_page_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/<script>alert(1)</script>", headers={"accept": "text/html,*/*"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Short link not found" in response.text
    assert "<script>alert" not in response.text  # the requested path is escaped


async def test_other_methods_on_a_link_are_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.post("/docs")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_liveness_and_readiness(client: httpx.AsyncClient, state: RedirectorState) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    state.ready = False
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/livez")).status_code == 200


async def test_not_ready_before_the_first_table_load() -> None:
    fresh = RedirectorState()
    transport = httpx.ASGITransport(
        app=__import__("shortlink_redirector.app").app.create_app(fresh)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        assert (await other.get("/readyz")).status_code == 503


async def test_probe_paths_cannot_be_shadowed_by_a_hand_edited_table(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    data = shard(route("fine"))
    entries = json.loads(data[ROUTES_KEY])
    entries["/readyz"] = {
        "slug": "readyz",
        "url": "https://evil.example/",
        "namespace": "x",
        "name": "y",
    }
    apply_shard(state, "s-9", {**data, ROUTES_KEY: json.dumps(entries)})
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/fine")).status_code == 302


async def test_redirects_and_misses_are_counted_per_link(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    for _ in range(3):
        await client.get("/docs")
    await client.head("/perm")
    await client.get("/missing")
    exposition = generate_latest(state.metrics.registry).decode()
    assert 'shortlink_redirects_total{code="302",name="docs",namespace="team"} 3.0' in exposition
    assert 'shortlink_redirects_total{code="301",name="perm",namespace="team"} 1.0' in exposition
    assert "shortlink_not_found_total 1.0" in exposition
    assert "missing" not in exposition  # no label is ever taken from the request


async def test_a_suspended_link_in_the_table_is_never_redirected(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    # Format 3 routes suspended links (for their pages); neither path may redirect them.
    load_all(state, {"s": shard(route("paused", suspended=True))})
    assert "/paused" not in state.table.fast
    for path in ("/paused", "/paused/x", "/Paused?q=1"):
        assert (await client.get(path)).status_code == 404, path
