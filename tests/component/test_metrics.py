"""What a redirector exports to Prometheus after real requests through its ASGI app."""

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shortlink_core.series import OVERFLOW
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import apply_shard, load_all
from shortlink_redirector.metrics import RedirectorMetrics
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.state import RedirectorState
from tests.component.conftest import route, shard

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def samples(state: RedirectorState) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    exposition = generate_latest(state.metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(state: RedirectorState, metric: str, **labels: str) -> float:
    return samples(state)[(metric, frozenset(labels.items()))]


@pytest.fixture(autouse=True)
def table(state: RedirectorState) -> None:
    load_all(state, {"s-0": shard(route("docs", "https://example.com/docs?x=1"))})


async def test_visits_are_counted_by_visitor_and_referrer_class(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    await client.get("/docs", headers={"user-agent": PHONE, "referer": "https://news.example/"})
    await client.get("/docs", headers={"user-agent": PHONE, "referer": "http://short.test/x"})
    await client.get("/docs", headers={"user-agent": "Googlebot/2.1"})
    assert value(state, "shortlink_visits_by_visitor_class_total", **{"class": "mobile"}) == 2
    assert value(state, "shortlink_visits_by_visitor_class_total", **{"class": "bot"}) == 1
    assert value(state, "shortlink_visits_by_visitor_class_total", **{"class": "tablet"}) == 0
    for referrer in ("external", "same-site", "direct"):
        assert value(state, "shortlink_visits_by_referrer_class_total", **{"class": referrer}) == 1


async def test_latency_is_a_histogram_in_seconds_per_handler(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    for _ in range(3):
        await client.get("/docs")
    await client.get("/nope")
    redirect = {"handler": "redirect"}
    assert value(state, "shortlink_request_duration_seconds_count", **redirect) == 3
    assert value(state, "shortlink_request_duration_seconds_bucket", le="+Inf", **redirect) == 3
    assert 0 < value(state, "shortlink_request_duration_seconds_sum", **redirect) < 1
    assert value(state, "shortlink_request_duration_seconds_count", handler="other") == 1


async def test_not_found_is_counted_without_the_path(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    await client.get("/secret-looking-path")
    exposition = generate_latest(state.metrics.registry).decode()
    assert "shortlink_not_found_total 1.0" in exposition
    assert "secret-looking-path" not in exposition


async def test_not_found_answers_past_the_budget_are_counted_as_limited(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    state.not_found_limiter = NotFoundLimiter(burst=2, per_second=0.01)
    statuses = [(await client.get(f"/guess-{i}")).status_code for i in range(5)]
    assert statuses == [404, 404, 429, 429, 429]
    assert value(state, "shortlink_not_found_total") == 2
    assert value(state, "shortlink_not_found_limited_total") == 3


def test_table_size_version_and_build_are_exported(state: RedirectorState) -> None:
    version = value(state, "shortlink_table_version")
    apply_shard(state, "s-1", shard(route("more")))
    assert value(state, "shortlink_table_entries") == 2
    assert value(state, "shortlink_table_bytes") > 50
    assert value(state, "shortlink_table_version") == version + 1
    build = next(k for k in samples(state) if k[0] == "shortlink_build_info")
    assert ("component", "redirector") in build[1]


async def test_links_beyond_the_cap_share_the_overflow_series() -> None:
    state = RedirectorState(metrics=RedirectorMetrics(CollectorRegistry(), max_link_series=2))
    load_all(state, {"s-0": shard(route("a"), route("b"), route("c"), route("d", code=301))})
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://short.test") as client:
        for slug in ("a", "b", "c", "d", "d"):
            assert (await client.get(f"/{slug}")).status_code in (301, 302)
    redirects = {k: v for k, v in samples(state).items() if k[0] == "shortlink_redirects_total"}
    assert len(redirects) == 4  # two links of their own, and one overflow series per code
    overflow = {"namespace": OVERFLOW, "name": OVERFLOW}
    assert value(state, "shortlink_redirects_total", code="302", **overflow) == 1
    assert value(state, "shortlink_redirects_total", code="301", **overflow) == 2
    assert sum(redirects.values()) == 5


def test_a_deleted_links_series_frees_its_slot(state: RedirectorState) -> None:
    apply_shard(state, "s-1", shard(route("gone")))
    assert (
        "shortlink_redirects_total",
        frozenset({"namespace": "team", "name": "gone", "code": "302"}.items()),
    ) in samples(state)
    apply_shard(state, "s-1", {})
    names = {dict(k[1]).get("name") for k in samples(state) if k[0] == "shortlink_redirects_total"}
    assert names == {"docs"}
