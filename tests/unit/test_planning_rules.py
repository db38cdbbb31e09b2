"""The planner's gates beyond validity: namespace policy, grace period, shard capacity, Events."""

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from shortlink_core.table import RELEASED_KEY, Release, decode_shard
from shortlink_operator.link_index import IndexedLink, index_link
from shortlink_operator.planning import DEFAULT_SHARD_BUDGET, Plan, PlanConfig, plan
from shortlink_operator.policy import index_policy
from shortlink_operator.table_state import TableReader, TableState
from tests.unit.test_planning import obj


def epoch(moment: str) -> float:
    return datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def planned(
    links: Any,
    *,
    now: str = "2026-06-01T00:00:00Z",
    shard_count: int = 4,
    shard_budget: int = DEFAULT_SHARD_BUDGET,
    grace_until: str | None = None,
    **rest: Any,
) -> Plan:
    """`plan` with times written as RFC 3339, as these scenarios read best."""
    grace = epoch(grace_until) - epoch(now) if grace_until else 0.0
    settings = PlanConfig(
        base_url="b", shard_count=shard_count, shard_budget=shard_budget, grace_seconds=grace
    )
    return plan(links, settings=settings, now=epoch(now), **rest)


def data_size(data: dict[str, str]) -> int:
    """What the API server counts of a ConfigMap's data (and the operator's metric reports)."""
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


def reasons(result: Plan) -> dict[str, str]:
    return {key[1]: s["conditions"][0]["reason"] for key, s in result.statuses.items()}


def served(result: Plan) -> dict[str, str]:
    return {r.slug: r.name for d in result.shards.values() for r in decode_shard(d).routes}


def policy(name: str, **spec: object) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": spec}


def test_a_policy_refuses_slugs_outside_its_prefixes_and_names_itself() -> None:
    links = [
        index_link(obj("ok", "https://e.com/", slug="team-a-docs", ns="a")),
        index_link(obj("bad", "https://e.com/", slug="docs", ns="a")),
        index_link(obj("free", "https://e.com/", slug="free", ns="other")),
    ]
    rule = index_policy(policy("team-a", namespaces=["a"], allowedSlugPrefixes=["team-a-"]))
    result = planned(links, shard_count=4, now="2026-06-01T00:00:00Z", policies=[rule])
    assert reasons(result) == {"ok": "Published", "bad": "PolicyViolation", "free": "Published"}
    message = result.statuses[("a", "bad")]["conditions"][0]["message"]
    assert "ShortLinkPolicy team-a" in message
    assert "'team-a-'" in message
    assert served(result) == {"team-a-docs": "ok", "free": "free"}


def test_a_violating_link_does_not_block_the_slug_for_an_allowed_one() -> None:
    older = index_link(obj("old", "https://e.com/", slug="x", ns="locked", created="2026-01-01"))
    newer = index_link(obj("new", "https://e.com/", slug="x", ns="open", created="2026-02-01"))
    rule = index_policy(
        policy(
            "lock",
            namespaceSelector={"matchLabels": {"tier": "locked"}},
            allowedSlugPrefixes=["locked-"],
        )
    )
    result = planned(
        [older, newer],
        shard_count=4,
        now="2026-06-01T00:00:00Z",
        policies=[rule],
        namespace_labels={"locked": {"tier": "locked"}},
    )
    assert reasons(result) == {"old": "PolicyViolation", "new": "Published"}


def test_policies_add_permissions_and_label_expressions_select() -> None:
    link = index_link(obj("l", "https://e.com/", slug="b-x", ns="n"))
    first = index_policy(policy("p1", namespaces=["n"], allowedSlugPrefixes=["a-"]))
    second = index_policy(
        policy(
            "p2",
            namespaceSelector={"matchExpressions": [{"key": "team", "operator": "Exists"}]},
            allowedSlugPrefixes=["b-"],
        )
    )
    labels = {"n": {"team": "b"}}
    allowed = planned(
        [link],
        shard_count=4,
        now="2026-06-01T00:00:00Z",
        policies=[first, second],
        namespace_labels=labels,
    )
    assert reasons(allowed) == {"l": "Published"}
    refused = planned([link], shard_count=4, now="2026-06-01T00:00:00Z", policies=[first, second])
    assert reasons(refused) == {"l": "PolicyViolation"}


def test_a_deleted_owner_keeps_its_slug_through_the_grace_period() -> None:
    owner = index_link(obj("owner", "https://e.com/1", slug="x", ns="a", created="2026-01-01"))
    newcomer = index_link(obj("new", "https://e.com/2", slug="x", ns="b", created="2026-03-01"))
    first = planned([owner], shard_count=4, now="2026-04-01T00:00:00Z")
    reader = TableReader()

    # The owner is deleted; the newcomer arrives within the grace period.
    gone = planned(
        [newcomer],
        shard_count=4,
        now="2026-04-01T00:00:10Z",
        table=reader.read(first.shards),
        grace_until="2026-04-01T00:05:10Z",
    )
    assert served(gone) == {}
    assert reasons(gone) == {"new": "SlugConflict"}
    assert "held for ShortLink a/owner" in gone.statuses[("b", "new")]["conditions"][0]["message"]
    assert gone.next_change == epoch("2026-04-01T00:05:10Z")
    assert any(RELEASED_KEY in data for data in gone.shards.values())

    # The owner is re-created (a new object, no status) and gets its slug back.
    recreated = replace(owner, uid="other", created="2026-04-01T00:00:20Z", status={})
    back = planned(
        [newcomer, recreated],
        shard_count=4,
        now="2026-04-01T00:00:30Z",
        table=reader.read(gone.shards),
        grace_until="2026-04-01T00:05:30Z",
    )
    assert served(back) == {"x": "owner"}
    assert reasons(back)["owner"] == "Published"
    assert reasons(back)["new"] == "SlugConflict"
    assert "served by ShortLink a/owner" in back.statuses[("b", "new")]["conditions"][0]["message"]

    # Without the owner, the hold ends with the grace period and the newcomer gets the slug.
    later = planned(
        [newcomer],
        shard_count=4,
        now="2026-04-01T00:05:11Z",
        table=reader.read(gone.shards),
        grace_until="2026-04-01T00:10:11Z",
    )
    assert served(later) == {"x": "new"}


def test_no_grace_period_hands_the_slug_over_at_once() -> None:
    owner = index_link(obj("owner", "https://e.com/1", slug="x", ns="a"))
    newcomer = index_link(obj("new", "https://e.com/2", slug="x", ns="b"))
    table = TableReader().read(planned([owner], shard_count=4, now="2026-06-01T00:00:00Z").shards)
    result = planned([newcomer], shard_count=4, now="2026-06-01T00:00:00Z", table=table)
    assert served(result) == {"x": "new"}


def test_ownership_is_the_same_in_any_order_and_after_a_restart() -> None:
    links = [
        index_link(
            obj(
                f"l{i}",
                f"https://e.com/{i}",
                slug=f"s{i % 2}",
                ns=f"n{i % 3}",
                created=f"2026-01-0{i + 1}",
            )
        )
        for i in range(5)
    ]
    first = planned(links, shard_count=2, now="2026-06-01T00:00:00Z")
    table = TableReader().read(first.shards)
    settled = [replace(link, status=first.statuses[link.key]) for link in links]
    for order in itertools.permutations(settled):
        again = planned(order, shard_count=2, now="2026-06-01T00:01:00Z", table=table)
        assert again.shards == first.shards
        assert again.statuses == {}
        assert again.events == []


def test_a_full_shard_refuses_the_newest_links_and_keeps_what_it_serves() -> None:
    def link(i: int, created: str) -> IndexedLink:
        return index_link(obj(f"l{i}", f"https://e.com/{i:04d}", slug=f"s{i:04d}", created=created))

    budget = 1200  # bytes of shard data: room for about twelve of these entries
    old = [link(i, "2026-01-01") for i in range(20)]
    first = planned(old, shard_count=1, now="2026-06-01T00:00:00Z", shard_budget=budget)
    kept = served(first)
    assert 6 <= len(kept) < 20
    assert all(data_size(data) <= budget for data in first.shards.values())
    assert {r for r, reason in reasons(first).items() if reason == "CapacityExceeded"} == {
        f"l{i}" for i in range(20)
    } - set(kept.values())

    # An older link arriving later never pushes out what is already served.
    elder = link(99, "2025-01-01")
    table = TableReader().read(first.shards)
    second = planned(
        [*old, elder], shard_count=1, now="2026-06-01T00:00:00Z", shard_budget=budget, table=table
    )
    assert served(second) == kept
    assert reasons(second)["l99"] == "CapacityExceeded"
    message = second.statuses[("team", "l99")]["conditions"][0]["message"]
    assert "slug 's0099' needs 84 bytes in routing-table shard shortlink-routes-000" in message


def test_events_on_transitions_only_and_on_the_owner_of_a_contested_slug() -> None:
    owner = index_link(obj("owner", "https://e.com/1", slug="x", ns="a", created="2026-01-01"))
    rival = index_link(obj("rival", "https://e.com/2", slug="x", ns="b", created="2026-02-01"))
    first = planned([owner], shard_count=4, now="2026-06-01T00:00:00Z")
    assert first.events == []  # a first publication is no news worth an Event
    settled = replace(owner, status=first.statuses[owner.key])
    contested = planned([settled, rival], shard_count=4, now="2026-06-01T00:00:00Z")
    assert {(e.namespace, e.name, e.type, e.reason) for e in contested.events} == {
        ("b", "rival", "Warning", "SlugConflict"),
        ("a", "owner", "Normal", "SlugContested"),
    }
    rival_settled = replace(rival, status=contested.statuses[rival.key])
    assert planned([settled, rival_settled], shard_count=4, now="2026-06-01T00:00:00Z").events == []


def test_holds_survive_in_the_table_and_expire() -> None:
    hold = Release(key="/x", namespace="a", name="gone", until="2026-01-01T00:05:00Z")
    table = TableState(released={"/x": hold})
    newcomer = index_link(obj("new", "https://e.com/", slug="x"))
    during = planned([newcomer], shard_count=1, now="2026-01-01T00:04:59Z", table=table)
    assert reasons(during) == {"new": "SlugConflict"}
    held = json.loads(next(iter(during.shards.values()))[RELEASED_KEY])
    assert held == {"/x": {"namespace": "a", "name": "gone", "until": "2026-01-01T00:05:00Z"}}
    after = planned([newcomer], shard_count=1, now="2026-01-01T00:05:00Z", table=table)
    assert reasons(after) == {"new": "Published"}
