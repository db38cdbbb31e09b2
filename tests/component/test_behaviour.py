"""Every row of the README's behaviour table, against the redirector app in-process.

Each test names the rule it proves; the README table lists the same rules in the same order.
"""

import time
from collections import Counter
from dataclasses import replace
from urllib.parse import quote

import httpx
import pytest

from shortlink_core.link import Link
from shortlink_core.table import Route
from shortlink_redirector.addresses import parse_networks
from shortlink_redirector.app import create_app
from shortlink_redirector.follower import load_all
from shortlink_redirector.ratelimit import NotFoundLimiter
from shortlink_redirector.resolve import NotFound, Redirect, Visit, resolve
from shortlink_redirector.state import RedirectorState, ServingConfig
from shortlink_redirector.table import EMPTY_TABLE
from tests.component.conftest import route, shard

MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"
PAST, FUTURE = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"


def serve(state: RedirectorState, *routes: Route) -> None:
    load_all(state, {"shard": shard(*routes)})


async def location(client: httpx.AsyncClient, path: str, **headers: str) -> tuple[int, str | None]:
    response = await client.get(path, headers=headers)
    return response.status_code, response.headers.get("location")


# Query forwarding


async def test_the_request_query_is_forwarded(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    assert await location(client, "/docs?ref=mail&q=a+b&else") == (
        302,
        "https://example.com/docs?ref=mail&q=a+b&else",
    )
    assert await location(client, "/docs?a=%41&&b=") == (302, "https://example.com/docs?a=%41&&b=")


async def test_on_a_clash_the_targets_own_parameter_wins(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs?lang=en"))
    assert await location(client, "/docs?lang=fr&page=2") == (
        302,
        "https://example.com/docs?lang=en&page=2",
    )
    assert await location(client, "/docs?l%61ng=fr&q=a+b&else") == (
        302,
        "https://example.com/docs?lang=en&q=a+b&else",
    )


async def test_forwarding_can_be_switched_off(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs", forwardQuery=False))
    assert await location(client, "/docs?ref=mail") == (302, "https://example.com/docs")


# Path suffixes and templates


async def test_a_path_suffix_is_appended_by_default(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs/"))
    assert await location(client, "/docs/setup/linux") == (
        302,
        "https://example.com/docs/setup/linux",
    )


async def test_a_suffix_is_kept_byte_for_byte(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"), route("who", "https://t.example/"))
    assert await location(client, "/docs/a%20b/%C3%A4/") == (
        302,
        "https://example.com/docs/a%20b/%C3%A4/",
    )
    assert await location(client, "/docs/a//b") == (302, "https://example.com/docs/a//b")
    assert await location(client, "/who/http://host") == (302, "https://t.example/http://host")


def test_bytes_a_url_cannot_carry_are_percent_encoded(state: RedirectorState) -> None:
    # In-process with raw bytes: an HTTP client would encode them before sending.
    serve(state, route("docs", "https://example.com/docs"))
    for raw_path, expected in [
        ("/docs/\xc3\xa4", "/docs/%C3%A4"),
        ("/docs/..\\x", "/docs/..%5Cx"),
        ('/docs/"<>^`{|}', "/docs/%22%3C%3E%5E%60%7B%7C%7D"),
        ("/docs/a b\x7f", "/docs/a%20b%7F"),
        ("/docs/~!$&'()*+,;=:@%zz", "/docs/~!$&'()*+,;=:@%zz"),  # allowed: kept as sent
    ]:
        decision = resolve(
            state.table, Visit("", raw_path, "", {}, ""), now=0, max_age=0, country_header=""
        )
        assert isinstance(decision, Redirect)
        assert decision.headers[0][1] == b"https://example.com" + expected.encode()


async def test_dot_segments_in_a_suffix_are_dropped(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    assert await location(client, "/docs/%2E%2E/../admin") == (
        302,
        "https://example.com/docs/admin",
    )
    for raw_path in ("/docs/a/./b/", "/docs/a/%2e/b/../", "/docs/../a/.%2E/b/"):
        decision = resolve(
            state.table, Visit("", raw_path, "", {}, ""), now=0, max_age=0, country_header=""
        )
        assert isinstance(decision, Redirect)
        assert decision.headers[0][1] == b"https://example.com/docs/a/b/", raw_path


async def test_a_suffix_can_be_ignored(client: httpx.AsyncClient, state: RedirectorState) -> None:
    serve(state, route("docs", "https://example.com/docs", pathSuffix="Ignore"))
    assert await location(client, "/docs/anything") == (302, "https://example.com/docs")


async def test_a_suffix_can_be_rejected(client: httpx.AsyncClient, state: RedirectorState) -> None:
    serve(state, route("docs", "https://example.com/docs", pathSuffix="Reject"))
    assert (await client.get("/docs/anything")).status_code == 404
    assert (await client.get("/docs")).status_code == 302


async def test_a_trailing_slash_is_the_link_itself(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs", pathSuffix="Reject"))
    assert await location(client, "/docs/") == (302, "https://example.com/docs")
    serve(state, route("docs", "https://example.com/docs"))
    assert await location(client, "/docs//") == (302, "https://example.com/docs//")


async def test_a_path_template_takes_the_suffix(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("gh", "https://github.com/acme/{path}"))
    assert await location(client, "/gh/shortlink/issues") == (
        302,
        "https://github.com/acme/shortlink/issues",
    )
    assert await location(client, "/gh") == (302, "https://github.com/acme/")
    assert await location(client, "/gh/shortlink/issues/") == (
        302,
        "https://github.com/acme/shortlink/issues/",
    )


async def test_a_template_in_the_query_is_escaped_as_a_value(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("s", "https://search.example/?q={path}", forwardQuery=False))
    assert await location(client, "/s/a&b=c#d") == (302, "https://search.example/?q=a%26b%3Dc")
    assert await location(client, "/s/kube%20api") == (302, "https://search.example/?q=kube%20api")


async def test_a_query_template_takes_the_query(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("q", "https://search.example/find?{query}"))
    assert await location(client, "/q?term=x") == (302, "https://search.example/find?term%3Dx")


# Matching


async def test_matching_ignores_case_and_separators(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("team-docs", "https://example.com/team"))
    for spelling in ("/Team-Docs", "/team_docs", "/TEAMDOCS", "/team.docs"):
        assert await location(client, spelling) == (302, "https://example.com/team"), spelling
    serve(state, route("key", "https://example.com/key"))
    assert await location(client, "/KEY") == (302, "https://example.com/key")
    for spelling in ("/%E2%84%AAey", "/%EF%BD%8Bey"):  # KELVIN SIGN, FULLWIDTH k
        assert (await client.get(spelling)).status_code == 404, spelling


async def test_trailing_separators_are_ignored_other_punctuation_is_not(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    for spelling in ("/docs.", "/docs-", "/docs_", "/docs..", "/.docs"):
        assert await location(client, spelling) == (302, "https://example.com/docs"), spelling
    for spelling in ("/docs,", "/docs)", "/docs!", "/docs%22", "/docs;"):
        assert (await client.get(spelling)).status_code == 404, spelling
    assert await location(client, "/docs/page.") == (302, "https://example.com/docs/page.")


async def test_only_dash_underscore_and_dot_are_separators(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("team-docs", "https://example.com/team"))
    for spelling in ("/team~docs", "/team%20docs", "/team+docs", "/team%2Fdocs", "/team:docs"):
        assert (await client.get(spelling)).status_code == 404, spelling


async def test_exact_links_answer_only_their_exact_slug(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("team-docs", "https://example.com/team", match="Exact"))
    assert (await client.get("/team-docs")).status_code == 302
    assert (await client.get("/Team-Docs")).status_code == 404
    assert (await client.get("/teamdocs")).status_code == 404


async def test_an_alias_serves_the_same_link(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    # The operator writes an alias as a route of its own, from the same ShortLink.
    serve(state, route("handbook", "https://example.com/hb"), route("hb", "https://example.com/hb"))
    assert await location(client, "/hb") == await location(client, "/handbook")


# Lifecycle


async def test_an_expired_link_is_gone(client: httpx.AsyncClient, state: RedirectorState) -> None:
    serve(
        state,
        route("old", "https://example.com/", expiresAt=PAST, description="Q3 survey", owner="#ops"),
        route("older", "https://example.com/", expiresAt=PAST),
    )
    assert (await client.get("/old")).status_code == 410
    page = await client.get("/old", headers={"accept": "text/html"})
    assert page.status_code == 410
    assert "expired at 2020-01-01T00:00:00Z" in page.text
    assert "Q3 survey" in page.text
    assert "Whom to ask: <strong>#ops</strong>" in page.text
    unowned = await client.get("/older", headers={"accept": "text/html"})
    assert "Ask whoever gave you the link." in unowned.text


async def test_an_expired_link_can_send_visitors_elsewhere(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(
        state,
        route(
            "old", "https://example.com/", expiresAt=PAST, expiredURL="https://example.com/archive"
        ),
    )
    assert await location(client, "/old") == (302, "https://example.com/archive")


async def test_a_link_is_not_served_before_it_is_active(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("soon", "https://example.com/", activeFrom=FUTURE))
    assert (await client.get("/soon")).status_code == 404


async def test_a_suspended_link_answers_404_and_names_whom_to_ask(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(
        state,
        route("paused", "https://example.com/", suspended=True, description="Beta", owner="Ana"),
    )
    for path in ("/paused", "/Paused", "/paused/x?y=1"):
        response = await client.get(path)
        assert (response.status_code, response.text) == (404, "short link suspended\n"), path
        assert "location" not in response.headers
    page = await client.get("/paused", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "is suspended" in page.text
    assert "Beta" in page.text
    assert "Whom to ask: <strong>Ana</strong>" in page.text
    data = await client.get("/paused", headers={"accept": "application/json"})
    assert data.json() == {"error": "suspended", "slug": "paused"}


async def test_times_are_enforced_to_the_second_without_the_operator(
    state: RedirectorState,
) -> None:
    start = time.time() + 100
    serve(
        state,
        route("window", "https://example.com/", activeFrom=_iso(start), expiresAt=_iso(start + 60)),
    )
    visit = Visit(host="", path="/window", query="", headers={}, client="203.0.113.7")

    def answer(now: float) -> str:
        return type(resolve(state.table, visit, now=now, max_age=0, country_header="")).__name__

    assert [answer(start - 1), answer(start), answer(start + 59), answer(start + 60)] == [
        "NotFound",
        "Redirect",
        "Redirect",
        "Gone",
    ]


# Hosts


async def test_links_are_routed_by_host(client: httpx.AsyncClient, state: RedirectorState) -> None:
    serve(
        state,
        route("docs", "https://go.example/docs", host="go.example.com"),
        route("docs", "https://links.example/docs", host="links.example.com"),
        route("docs", "https://anywhere.example/docs"),
        route("wiki", "https://anywhere.example/wiki"),
    )
    assert await location(client, "/docs", host="go.example.com") == (
        302,
        "https://go.example/docs",
    )
    assert await location(client, "/docs", host="LINKS.example.com:8443") == (
        302,
        "https://links.example/docs",
    )
    assert await location(client, "/docs", host="other.example") == (
        302,
        "https://anywhere.example/docs",
    )
    assert await location(client, "/wiki", host="go.example.com") == (
        302,
        "https://anywhere.example/wiki",
    )


async def test_a_host_only_link_is_not_served_on_other_hosts(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("private", "https://example.com/", host="go.example.com"))
    assert (await client.get("/private", headers={"host": "other.example"})).status_code == 404


# Rules


async def test_rules_route_by_device(client: httpx.AsyncClient, state: RedirectorState) -> None:
    rules = [{"when": {"devices": ["Mobile", "Tablet"]}, "url": "https://m.example.com/"}]
    serve(state, route("app", "https://example.com/", rules=rules))
    assert await location(client, "/app", **{"user-agent": MOBILE}) == (
        302,
        "https://m.example.com/",
    )
    assert await location(client, "/app", **{"user-agent": DESKTOP}) == (
        302,
        "https://example.com/",
    )


async def test_rules_route_by_language(client: httpx.AsyncClient, state: RedirectorState) -> None:
    rules = [{"when": {"languages": ["de"]}, "url": "https://example.de/"}]
    serve(state, route("shop", "https://example.com/", rules=rules))
    assert await location(client, "/shop", **{"accept-language": "de-AT,en;q=0.5"}) == (
        302,
        "https://example.de/",
    )
    assert await location(client, "/shop", **{"accept-language": "en,de;q=0"}) == (
        302,
        "https://example.com/",
    )


async def test_rules_route_by_country_only_from_the_trusted_header() -> None:
    state = RedirectorState(serving=ServingConfig(country_header="cf-ipcountry"))
    rules = [{"when": {"countries": ["DE", "AT"]}, "url": "https://example.de/"}]
    serve(state, route("shop", "https://example.com/", rules=rules))
    untrusting = RedirectorState()
    serve(untrusting, route("shop", "https://example.com/", rules=rules))
    for redirector, expected in (
        (state, "https://example.de/"),
        (untrusting, "https://example.com/"),
    ):
        transport = httpx.ASGITransport(app=create_app(redirector))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert await location(client, "/shop", **{"cf-ipcountry": "de"}) == (302, expected)


async def test_rules_route_by_header_and_query(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    rules = [
        {
            "when": {"header": {"name": "X-Beta", "values": ["1"]}},
            "url": "https://beta.example.com/",
        },
        {"when": {"query": {"name": "v", "values": ["next"]}}, "url": "https://next.example.com/"},
    ]
    serve(state, route("app", "https://example.com/", rules=rules, forwardQuery=False))
    assert await location(client, "/app", **{"x-beta": "1"}) == (302, "https://beta.example.com/")
    assert await location(client, "/app?v=next") == (302, "https://next.example.com/")
    assert await location(client, "/app?v=old") == (302, "https://example.com/")


async def test_rules_route_by_time_window(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    rules = [
        {"when": {"before": PAST}, "url": "https://past.example.com/"},
        {"when": {"after": PAST, "before": FUTURE}, "url": "https://now.example.com/"},
    ]
    serve(state, route("event", "https://example.com/", rules=rules))
    assert await location(client, "/event") == (302, "https://now.example.com/")


async def test_the_first_matching_rule_wins(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    rules = [
        {"when": {"devices": ["Mobile"]}, "url": "https://first.example.com/"},
        {"when": {"devices": ["Mobile"]}, "url": "https://second.example.com/"},
    ]
    serve(state, route("app", "https://example.com/", rules=rules))
    assert await location(client, "/app", **{"user-agent": MOBILE}) == (
        302,
        "https://first.example.com/",
    )


async def test_splits_are_weighted_and_sticky_per_visitor(state: RedirectorState) -> None:
    rules = [
        {
            "split": [
                {"weight": 1, "url": "https://a.example/"},
                {"weight": 3, "url": "https://b.example/"},
            ]
        }
    ]
    serve(state, route("ab", "https://example.com/", rules=rules))
    arms: Counter[str] = Counter()
    for visitor in range(400):
        visit = Visit("", "/ab", "", {"user-agent": f"agent-{visitor}"}, f"198.51.{visitor}.1")
        first = resolve(state.table, visit, now=time.time(), max_age=0, country_header="")
        again = resolve(state.table, visit, now=time.time(), max_age=0, country_header="")
        assert first == again  # the same visitor always lands on the same arm
        assert isinstance(first, Redirect)
        arms[dict(first.headers)[b"location"].decode()] += 1
    assert 0.15 < arms["https://a.example/"] / 400 < 0.35


async def test_utm_tags_reach_the_destination(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(
        state, route("promo", "https://shop.example/", utm={"source": "qr", "campaign": "spring"})
    )
    assert await location(client, "/promo") == (
        302,
        "https://shop.example/?utm_source=qr&utm_campaign=spring",
    )


# Inspect before you follow, and not found


async def test_the_inspect_page_shows_the_link(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    rules = [{"when": {"devices": ["Mobile"]}, "url": "https://m.example.com/"}]
    serve(
        state,
        route(
            "docs",
            "https://example.com/docs",
            description="Team handbook",
            owner="team-a@example.com",
            expiresAt=FUTURE,
            rules=rules,
        ),
    )
    served = state.table.routes["/docs"]
    state.table.routes["/docs"] = replace(
        served,
        route=replace(served.route, changed=1_893_553_445),  # 2030-01-02T03:04:05Z
    )
    assert (await client.get("/docs")).status_code == 302  # one visit
    page = await client.get("/docs+", headers={"accept": "text/html"})
    assert page.status_code == 200
    for shown in (
        "<dt>Goes to</dt>",
        "https://example.com/docs",
        "Team handbook",
        "<dt>Whom to ask</dt>\n<dd>team-a@example.com</dd>",
        "<dt>Redirect</dt>\n<dd>302 Found (temporary)</dd>",
        "<dt>Expires</dt>\n<dd>2100-01-01T00:00:00Z</dd>",
        "device is Mobile",
        "<dt>Visits</dt>\n<dd>1 (answered by this server since it started)</dd>",
        "<dt>Last change</dt>\n<dd>2030-01-02T03:04:05Z</dd>",
        "<dt>Defined by</dt>\n<dd>ShortLink team/docs</dd>",
        ">Active<",
    ):
        assert shown in page.text, shown
    data = (await client.get("/docs+", headers={"accept": "application/json"})).json()
    assert data["url"] == "https://example.com/docs"
    assert data["namespace"] == "team"
    assert data["shortURL"] == "http://short.test/docs"
    assert (data["owner"], data["visits"], data["state"]) == ("team-a@example.com", 1, "Active")
    assert (data["changed"], data["listed"]) == ("2030-01-02T03:04:05Z", False)


async def test_qr_codes_come_as_svg_and_png(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    svg = await client.get("/docs+qr.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    png = await client.get("/docs+qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


async def test_not_found_suggests_close_slugs_to_browsers_only(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(
        state, route("handbook", "https://example.com/"), route("holidays", "https://example.com/h")
    )
    page = await client.get("/handbok", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert 'href="/handbook"' in page.text
    assert 'href="/holidays"' not in page.text
    data = await client.get("/handbok", headers={"accept": "application/json"})
    assert (data.status_code, data.json()) == (404, {"error": "not found", "slug": "handbok"})
    plain = await client.get("/handbok", headers={"accept": "*/*"})
    assert (plain.status_code, plain.text) == (404, "short link not found\n")


async def test_not_found_offers_browsers_the_command_that_creates_the_link(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs"))
    html = {"accept": "text/html"}
    page = (await client.get("/Team-Wiki", headers=html)).text
    assert "kubectl shortlink create team-wiki --url https://example.com/replace-me</code>" in page
    assert "kind: ShortLink\nmetadata:\n  name: team-wiki\nspec:\n  url: " in page
    # A slug with "_" needs a name of its own (object names may not hold "_").
    page = (await client.get("/team_wiki", headers=html)).text
    assert "create team-wiki --url https://example.com/replace-me --slug team_wiki" in page
    assert "  name: team-wiki\nspec:\n  slug: team_wiki\n" in page
    # No offer for what no link can serve: invalid or reserved slugs, hostile text.
    for path in ("/-x", "/a%20b", "/%3Cscript%3E", "/health_z", "/" + "a" * 101, "/caf%C3%A9"):
        page = (await client.get(path, headers=html)).text
        assert "Create this link" not in page, path
        assert "<script>" not in page, path
    data = await client.get("/team-wiki", headers={"accept": "application/json"})
    assert data.json() == {"error": "not found", "slug": "team-wiki"}


async def test_probing_unknown_slugs_is_limited_per_client_network() -> None:
    state = RedirectorState(
        serving=ServingConfig(trusted_proxies=parse_networks("10.0.0.0/8")),
        not_found_limiter=NotFoundLimiter(burst=3, per_second=0.01),
    )
    serve(state, route("docs", "https://example.com/docs"))
    app = create_app(state)

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://short.test")

    async with (
        client_at("198.51.100.7") as prober,
        client_at("198.51.100.200") as neighbour,
        client_at("203.0.113.7") as other,
        client_at("10.1.2.3") as proxy,
    ):
        assert [(await prober.get(f"/guess-{i}")).status_code for i in range(3)] == [404] * 3
        for accept in ("*/*", "text/html", "application/json"):
            limited = await prober.get("/guess-4", headers={"accept": accept})
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["retry-after"]) <= 100
            assert "guess" not in limited.text
        assert (await prober.post("/guess-5")).status_code == 429  # any method
        # Known links still redirect, for the prober too; its /24 shares its budget.
        assert (await prober.get("/docs")).status_code == 302
        assert (await prober.get("/Docs?x=1")).status_code == 302
        assert (await neighbour.get("/guess-6")).status_code == 429
        assert (await other.get("/guess-7")).status_code == 404
        # Behind a trusted proxy, the client is the one X-Forwarded-For names.
        forwarded = {"x-forwarded-for": "198.51.100.9"}
        assert (await proxy.get("/guess-8", headers=forwarded)).status_code == 429
        assert (await proxy.get("/guess-9")).status_code == 404


# The front page


def listed_links(state: RedirectorState) -> None:
    serve(
        state,
        route("handbook", "https://example.com/hb", listed=True, description="The team handbook"),
        replace(
            route("hb", "https://example.com/hb", listed=True, description="The team handbook"),
            name="handbook",  # an alias: a route of its own, from the same ShortLink
        ),
        route("oncall", "https://example.com/oc", listed=True, description="Who is on call"),
        route("secret-launch", "https://example.com/s", description="unlisted"),
        route("wiki", "https://example.com/w", listed=True, host="other.example"),
    )
    for served in state.table.routes.values():  # aliases share their link's counter
        served.counter.value = {"handbook": 5, "hb": 5, "oncall": 9}.get(served.route.slug, 0)


async def test_the_front_page_searches_listed_links_and_shows_the_most_visited(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    listed_links(state)
    page = await client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "Short links on this server" in page.text
    assert '<input type="search" name="q"' in page.text
    assert page.text.index('href="/oncall"') < page.text.index('href="/handbook"')  # by visits
    assert "9 visits" in page.text
    assert "also /hb" in page.text  # one entry per link, its aliases with it
    found = await client.get("/?q=HANDBOOK", headers={"accept": "text/html"})
    assert 'href="/handbook"' in found.text
    assert 'href="/oncall"' not in found.text
    data = (await client.get("/?q=call", headers={"accept": "application/json"})).json()
    assert [entry["slug"] for entry in data["results"]] == ["oncall"]
    assert [(e["slug"], e["visits"]) for e in data["mostVisited"]] == [
        ("oncall", 9),
        ("handbook", 5),
    ]
    assert data["listed"] == 2
    assert "since it started" in data["visits"]


async def test_the_front_page_never_shows_unlisted_links_or_other_hosts_links(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    listed_links(state)
    for path in ("/", "/?q=secret", "/?q=launch", "/?q=wiki", "/?q=s"):
        for accept in ("text/html", "application/json"):
            text = (await client.get(path, headers={"accept": accept})).text
            assert "secret-launch" not in text, (path, accept)
            assert "/wiki" not in text, (path, accept)
            assert "other.example" not in text, (path, accept)
    other = await client.get("http://other.example/?q=wiki", headers={"accept": "text/html"})
    assert 'href="/wiki"' in other.text


async def test_a_front_page_search_is_bounded() -> None:
    state = RedirectorState(not_found_limiter=NotFoundLimiter(burst=3, per_second=0.01))
    serve(state, *(route(f"link-{i:03d}", listed=True) for i in range(60)))
    transport = httpx.ASGITransport(app=create_app(state), client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://short.test") as client:
        page = (await client.get("/", headers={"accept": "application/json"})).json()
        assert (page["listed"], len(page["results"])) == (60, 50)  # a first page, not all
        too_long = await client.get("/?q=" + "a" * 101, headers={"accept": "text/html"})
        assert too_long.status_code == 400
        found = (await client.get("/?q=link", headers={"accept": "application/json"})).json()
        assert len(found["results"]) == 20
        # Searches spend the client network's not-found budget: 3, one spent above.
        assert [(await client.get(f"/?q={q}")).status_code for q in "abc"] == [200, 200, 429]
        assert (await client.get("/")).status_code == 200  # the page without a search is free


async def test_pages_escape_what_they_show_and_run_no_script(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    serve(state, route("docs", description=hostile, owner=hostile, listed=True))
    html = {"accept": "text/html"}
    pages = [
        await client.get("/docs+", headers=html),
        await client.get("/", headers=html),
        await client.get("/?q=" + quote(hostile), headers=html),
        await client.get("/" + quote(hostile), headers=html),
        await client.get("/?q=script", headers=html),
    ]
    for page in pages:
        assert "<script" not in page.text
        assert "<img src=x" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].text


# HTTP details


async def test_permanent_redirects_are_cacheable_for_the_configured_time() -> None:
    state = RedirectorState(serving=ServingConfig(permanent_max_age=600))
    serve(
        state,
        route("perm", "https://example.com/", 301),
        route("temp", "https://example.com/", 307),
    )
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        perm, temp = await client.get("/perm"), await client.get("/temp")
    assert perm.headers["cache-control"] == "public, max-age=600"
    assert temp.headers["cache-control"] == "private, no-store"
    assert perm.headers["x-robots-tag"] == "noindex"
    assert perm.headers["referrer-policy"] == "strict-origin-when-cross-origin"


async def test_a_redirect_that_varies_is_never_cached(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("perm", "https://example.com/", 308))
    response = await client.get("/perm?x=1")
    assert response.headers["cache-control"] == "private, no-store"


def test_a_location_that_is_not_http_is_never_sent() -> None:
    # A route that bypassed every validation layer (as if the table were forged in memory).
    forged = Route(
        slug="x", link=Link(url="javascript:alert(1)", slug="x"), namespace="n", name="x"
    )
    table = EMPTY_TABLE.with_shards(
        {"s": ([forged], 0)}, RedirectorState().metrics.links, max_age=0
    )
    decision = resolve(table, Visit("", "/x/y", "", {}, ""), now=0, max_age=0, country_header="")
    assert isinstance(decision, NotFound)


@pytest.mark.parametrize("path", ["//evil.example/x", "/%2F%2Fevil.example"])
async def test_protocol_relative_tricks_find_nothing(
    client: httpx.AsyncClient, state: RedirectorState, path: str
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    response = await client.get(path)
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_a_location_over_the_cap_is_never_sent(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    many = "&".join(f"p{i}=v" for i in range(2000))
    response = await client.get(f"/docs?{many}")
    assert response.status_code == 414
    assert "location" not in response.headers


async def test_a_request_without_exactly_one_host_gets_400(state: RedirectorState) -> None:
    serve(state, route("docs", "https://example.com/docs"))
    app = create_app(state)
    for headers in ([], [(b"host", b"a"), (b"host", b"b")], [(b"host", b"a/b")]):
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object], into: list[dict[str, object]] = sent) -> None:
            into.append(message)

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "path": "/docs",
            "raw_path": b"/docs",
            "query_string": b"",
            "headers": headers,
            "client": ("203.0.113.7", 1),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        assert sent[0]["status"] == 400
        assert (b"connection", b"close") in sent[0]["headers"]  # type: ignore[operator]


async def test_before_the_first_table_load_links_answer_503(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    response = await client.get("/docs")
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    serve(state, route("docs", "https://example.com/docs"))
    assert (await client.get("/docs")).status_code == 302
    assert (await client.get("/nope")).status_code == 404


async def test_the_redirectors_own_paths_come_first(
    client: httpx.AsyncClient, state: RedirectorState
) -> None:
    serve(state, route("docs"))
    assert (await client.get("/healthz")).text == "ok"
    robots = await client.get("/robots.txt")
    assert (robots.status_code, robots.text) == (200, "User-agent: *\nDisallow: /\n")
    assert (await client.get("/favicon.ico")).status_code == 204


async def test_inspect_pages_show_the_public_base_url() -> None:
    state = RedirectorState(serving=ServingConfig(public_base_url="https://go.example.com"))
    serve(state, route("docs"))
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8080") as client:
        page = await client.get("/docs+", headers={"accept": "application/json"})
    assert page.json()["shortURL"] == "https://go.example.com/docs"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
