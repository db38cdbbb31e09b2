"""From the set of links to the table and the statuses: one answer per set, only what changed."""

import itertools
from dataclasses import replace
from typing import Any

from shortlink_core.table import decode_shard
from shortlink_operator.link_index import IndexedLink, index_link
from shortlink_operator.planning import Plan, PlanConfig, plan

SETTINGS = PlanConfig(base_url="https://go.example", shard_count=4, slug_key=b"test-key")
NOW = 1_900_000_000.0


def obj(
    name: str,
    url: str = "https://example.com/",
    *,
    created: str = "2026-01-01T00:00:00Z",
    ns: str = "team",
    **spec: Any,
) -> dict[str, Any]:
    """A ShortLink object as the API returns it; extra keywords go into its spec."""
    spec["url"] = url
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": name,
            "creationTimestamp": created,
            "generation": 1,
        },
        "spec": spec,
    }


def run(*objects: dict[str, Any], now: float = NOW, settings: PlanConfig = SETTINGS) -> Plan:
    return plan([index_link(o) for o in objects], settings=settings, now=now)


def served(result: Plan) -> dict[str, str]:
    return {
        r.slug: r.link.url for data in result.shards.values() for r in decode_shard(data).routes
    }


def ready(result: Plan, name: str, ns: str = "team") -> dict[str, Any]:
    condition: dict[str, Any] = result.statuses[(ns, name)]["conditions"][0]
    return condition


def test_valid_links_are_served_and_invalid_ones_are_not() -> None:
    result = run(obj("docs", url="https://example.com/docs"), obj("bad", url="javascript:x"))
    assert served(result) == {"docs": "https://example.com/docs"}
    assert ready(result, "bad")["reason"] == "InvalidSpec"
    assert "http:// or https://" in ready(result, "bad")["message"]


def test_every_spelling_of_a_reserved_slug_is_an_invalid_spec() -> None:
    result = run(
        obj("a", slug="health-z"),
        obj("b", slug="fine", aliases=["ready_z"]),
        obj("live.z"),
        obj("robots-txt"),
    )
    assert served(result) == {}
    for name in ("a", "b", "live.z", "robots-txt"):
        assert ready(result, name)["reason"] == "InvalidSpec", name
        assert "reserved" in ready(result, name)["message"], name


def test_a_conflict_names_the_owner_and_only_the_owner_is_served() -> None:
    result = run(
        obj("first", slug="x", url="https://one.example/", created="2026-01-01T00:00:00Z"),
        obj("second", slug="x", url="https://two.example/", created="2026-01-02T00:00:00Z"),
    )
    assert served(result) == {"x": "https://one.example/"}
    assert (ready(result, "first")["status"], ready(result, "first")["reason"]) == (
        "True",
        "Published",
    )
    assert result.statuses[("team", "first")]["shortURL"] == "https://go.example/x"
    assert ready(result, "second")["reason"] == "SlugConflict"
    assert "team/first" in ready(result, "second")["message"]


def test_aliases_are_served_and_a_lost_alias_does_not_unpublish_the_link() -> None:
    result = run(
        obj("owner", slug="handbook", created="2026-01-01T00:00:00Z"),
        obj("docs", aliases=["documentation", "handbook"], created="2026-01-02T00:00:00Z"),
    )
    assert set(served(result)) == {"handbook", "docs", "documentation"}
    status = result.statuses[("team", "docs")]
    assert status["aliases"] == ["documentation"]
    assert ready(result, "docs")["reason"] == "Published"
    assert "alias 'handbook' is served by ShortLink team/owner" in ready(result, "docs")["message"]


def test_lifecycle_outcomes_and_the_next_moment_to_look_again() -> None:
    result = run(
        obj("later", activeFrom="2030-04-01T00:00:00Z"),
        obj("over", expiresAt="2020-01-01T00:00:00Z"),
        obj("paused", suspended=True),
    )
    assert (ready(result, "later")["reason"], ready(result, "over")["reason"]) == (
        "Scheduled",
        "Expired",
    )
    assert ready(result, "paused")["reason"] == "Suspended"
    # Scheduled and expired links stay in the table: the redirector enforces their times itself.
    # A suspended one stays too, marked, so its page can say whom to ask (it is never redirected).
    assert set(served(result)) == {"later", "over", "paused"}
    routes = {r.slug: r for data in result.shards.values() for r in decode_shard(data).routes}
    assert routes["paused"].link.suspended
    assert not routes["later"].link.suspended
    assert result.next_change == 1_901_232_000.0  # 2030-04-01T00:00:00Z


def test_utm_tags_are_applied_to_every_destination_in_the_table() -> None:
    result = run(
        obj(
            "campaign",
            url="https://shop.example/?utm_source=site",
            utm={"source": "newsletter", "medium": "email"},
            rules=[{"when": {"devices": ["Mobile"]}, "url": "https://m.shop.example/"}],
        )
    )
    (route,) = [r for data in result.shards.values() for r in decode_shard(data).routes]
    assert route.link.url == "https://shop.example/?utm_source=site&utm_medium=email"
    assert (
        route.link.rules[0].url == "https://m.shop.example/?utm_source=newsletter&utm_medium=email"
    )


def test_generated_slugs_are_deterministic_short_and_unambiguous() -> None:
    result = run(obj("gen", generateSlug=True))
    slug = result.statuses[("team", "gen")]["slug"]
    assert len(slug) == 7
    assert not set(slug) & set("01ilo")
    assert run(obj("gen", generateSlug=True)).statuses[("team", "gen")]["slug"] == slug
    other_key = replace(SETTINGS, slug_key=b"another-key")
    assert (
        run(obj("gen", generateSlug=True), settings=other_key).statuses[("team", "gen")]["slug"]
        != slug
    )


def test_a_generated_code_taken_by_a_chosen_slug_is_lengthened() -> None:
    code = run(obj("gen", generateSlug=True)).statuses[("team", "gen")]["slug"]
    result = run(obj("gen", generateSlug=True), obj("squatter", slug=code))
    longer = result.statuses[("team", "gen")]["slug"]
    assert len(longer) == 8
    assert longer.startswith(code)
    assert set(served(result)) == {code, longer}


def test_same_links_give_the_same_table_in_any_order() -> None:
    links = [index_link(obj(f"l{i}", url=f"https://e.com/{i}", slug=f"s{i % 3}")) for i in range(6)]
    tables = {
        repr(sorted(plan(order, settings=SETTINGS, now=NOW).shards.items()))
        for order in itertools.permutations(links)
    }
    assert len(tables) == 1


def test_no_status_to_write_when_every_link_already_shows_its_outcome() -> None:
    links = [
        index_link(obj("docs")),
        index_link(obj("gen", generateSlug=True)),
        index_link(obj("bad", url="ftp://x")),
    ]
    first = plan(links, settings=SETTINGS, now=NOW)
    settled: list[IndexedLink] = [replace(link, status=first.statuses[link.key]) for link in links]
    assert plan(settled, settings=SETTINGS, now=NOW + 60).statuses == {}


def test_a_destination_back_at_the_shortener_is_invalid_never_served() -> None:
    result = run(
        obj("base", url="https://go.example/other"),  # the public base URL's host and port
        obj("base-dot", url="https://GO.example.:443/x"),
        obj("hosted", url="https://links.example/x", host="links.example"),
        obj("to-hosted", url="http://links.example:8080/y"),  # a host links serve, any port
        obj("rule", url="https://example.com/", rules=[{"url": "https://links.example/z"}]),
        obj("expired", expiresAt="2030-01-01T00:00:00Z", expiredURL="https://go.example/"),
        obj("other-port", url="https://go.example:8443/"),  # not the base URL's port
        obj("elsewhere", url="https://example.com/"),
    )
    for name in ("base", "base-dot", "hosted", "to-hosted", "rule", "expired"):
        status = ready(result, name)
        assert (status["status"], status["reason"]) == ("False", "InvalidSpec"), name
        assert "points back at this shortener" in status["message"]
    assert set(served(result)) == {"other-port", "elsewhere"}


def test_two_hosts_pointing_at_each_other_are_both_refused_in_any_order() -> None:
    a = obj("a", url="https://b.example/", host="a.example")
    b = obj("b", url="https://a.example/", host="b.example")
    for order in ((a, b), (b, a)):
        result = run(*order)
        assert served(result) == {}
        assert ready(result, "a")["reason"] == ready(result, "b")["reason"] == "InvalidSpec"


def test_a_link_is_listed_only_when_it_or_a_policy_of_its_namespace_says_so() -> None:
    from shortlink_operator.policy import index_policy

    listing = index_policy(
        {
            "metadata": {"name": "internal"},
            "spec": {"namespaces": ["intranet"], "allowedSlugPrefixes": [""], "listLinks": True},
        }
    )
    links = [
        obj("quiet", ns="team"),  # no policy lists team: not listed
        obj("shown", ns="team", listed=True),
        obj("golink", ns="intranet"),  # listed by the policy
        obj("secret", ns="intranet", listed=False),  # its own choice wins
    ]
    result = plan([index_link(o) for o in links], settings=SETTINGS, now=NOW, policies=[listing])
    routes = {r.slug: r for data in result.shards.values() for r in decode_shard(data).routes}
    assert {slug: r.link.listed for slug, r in routes.items()} == {
        "quiet": None,
        "shown": True,
        "golink": True,
        "secret": None,
    }


def test_the_time_of_the_last_change_by_a_person_reaches_the_table() -> None:
    body = obj("docs")
    body["metadata"]["managedFields"] = [
        {"manager": "kubectl", "operation": "Update", "time": "2030-01-02T03:04:05Z"},
        {"manager": "kubectl-edit", "operation": "Update", "time": "2030-02-01T00:00:00Z"},
        # Status writes and the operator's own writes are not changes to the link.
        {
            "manager": "x",
            "operation": "Update",
            "subresource": "status",
            "time": "2031-01-01T00:00:00Z",
        },
        {"manager": "shortlink-operator", "operation": "Update", "time": "2031-01-01T00:00:00Z"},
    ]
    result = run(body)
    (route,) = [r for data in result.shards.values() for r in decode_shard(data).routes]
    assert route.changed == 1_896_134_400  # 2030-02-01T00:00:00Z
