"""The byte budget: no shard is ever planned over it, and nothing served is lost to a growing link.

These drive `plan` (and through it `placement`) with links that grow past their shard's room or
past the per-link limit, and check the table, the statuses and their messages.
"""

import random
from dataclasses import replace
from typing import Any

from shortlink_core.matching import routing_key
from shortlink_core.table import decode_shard, shard_index, shard_name
from shortlink_operator.link_index import IndexedLink, index_link
from shortlink_operator.placement import link_limit
from shortlink_operator.planning import Plan, PlanConfig, plan
from shortlink_operator.table_state import TableReader, TableState
from tests.unit.test_planning import obj
from tests.unit.test_planning_rules import data_size

NOW = 1_900_000_000.0


def settings(budget: int, shards: int = 1) -> PlanConfig:
    return PlanConfig(base_url="https://go.example", shard_count=shards, shard_budget=budget)


def link(name: str, url: str, generation: int = 1, **spec: Any) -> IndexedLink:
    body = obj(name, url, **spec)
    body["metadata"]["generation"] = generation
    return index_link(body)


def long_rules(count: int, arms: int, length: int) -> list[dict[str, Any]]:
    """`count` rules, each a split of `arms` URLs of about `length` characters."""
    return [
        {
            "when": {"query": {"name": "v", "values": [str(r)]}},
            "split": [
                {"weight": 1, "url": f"https://e.com/{r}/{a}/" + "x" * length} for a in range(arms)
            ],
        }
        for r in range(count)
    ]


def settle(links: list[IndexedLink], result: Plan) -> list[IndexedLink]:
    """The links as the API returns them once the plan's statuses are written."""
    return [replace(li, status=result.statuses.get(li.key, li.status)) for li in links]


def served(result: Plan) -> dict[str, str]:
    return {
        r.slug: r.link.url for data in result.shards.values() for r in decode_shard(data).routes
    }


def condition(result: Plan, name: str) -> dict[str, Any]:
    found: dict[str, Any] = result.statuses[("team", name)]["conditions"][0]
    return found


def test_a_served_link_that_grows_past_its_shard_keeps_its_last_served_entry() -> None:
    # The reproduction: a Ready link with 4 aliases in one shard is patched to many long rules.
    budget = 64 * 1024
    aliases = ["a1", "a2", "a3", "a4"]
    small = link("grow", "https://old.example/", slug="grow", aliases=aliases)
    others = [link(f"o{i}", f"https://o.example/{i}", slug=f"o{i}") for i in range(20)]
    first = plan([small, *others], settings=settings(budget), now=NOW)
    assert condition(first, "grow")["reason"] == "Published"
    before = settle([small, *others], first)

    grown = replace(
        link(
            "grow",
            "https://new.example/",
            generation=2,
            slug="grow",
            aliases=aliases,
            rules=long_rules(3, 4, 1500),
        ),
        status=before[0].status,
    )
    newcomer = link("late", "https://late.example/", slug="late")
    second = plan(
        [grown, *before[1:], newcomer],
        settings=settings(budget),
        now=NOW,
        table=TableReader().read(first.shards),
    )
    assert all(data_size(data) <= budget for data in second.shards.values())
    table = served(second)
    assert {table[s] for s in ["grow", *aliases]} == {"https://old.example/"}
    assert table["late"] == "https://late.example/"  # the rest of the table moves on
    status = second.statuses[("team", "grow")]
    assert status["observedGeneration"] == 2
    assert status["slug"] == "grow"
    assert status["aliases"] == aliases
    ready = status["conditions"][0]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "False",
        "CapacityExceeded",
        2,
    )
    assert "generation 2 needs" in ready["message"]
    assert "shortlink-routes-000" in ready["message"]
    assert f"{link_limit(budget)} bytes" in ready["message"]
    assert "still served" in ready["message"]


def test_a_kept_link_serves_its_old_generation_in_every_shard_not_half_of_each() -> None:
    budget = 16 * 1024  # a link may take 4 KiB
    count = 4
    slugs = [f"s{i}" for i in range(200)]
    by_shard: dict[int, list[str]] = {}
    for slug in slugs:
        by_shard.setdefault(shard_index(routing_key("", slug), count), []).append(slug)
    [tight, roomy, *_] = sorted(by_shard, key=lambda index: -len(by_shard[index]))
    main, alias = by_shard[tight][0], by_shard[roomy][0]
    grow = link("grow", "https://old.example/", slug=main, aliases=[alias], created="2025")
    # Fill the first shard to nearly its budget with links served before `grow` changes.
    fillers = [
        link(f"f{i}", "https://f.example/" + "y" * 600, slug=slug)
        for i, slug in enumerate(by_shard[tight][1:40])
    ]
    first = plan([grow, *fillers], settings=settings(budget, count), now=NOW)
    assert condition(first, "grow")["reason"] == "Published"
    assert any(
        condition(first, f.name)["reason"] == "CapacityExceeded" for f in fillers
    )  # the shard is full
    before = settle([grow, *fillers], first)
    bigger = replace(
        link(
            "grow",
            "https://new.example/" + "z" * 700,  # more than the room left, under 4 KiB
            generation=2,
            slug=main,
            aliases=[alias],
            created="2025",
        ),
        status=before[0].status,
    )
    second = plan(
        [bigger, *before[1:]],
        settings=settings(budget, count),
        now=NOW,
        table=TableReader().read(first.shards),
    )
    table = served(second)
    assert table[main] == table[alias] == "https://old.example/"
    assert condition(second, "grow")["reason"] == "CapacityExceeded"
    message = condition(second, "grow")["message"]
    assert f"in routing-table shard {shard_name(tight)}, which has" in message
    assert all(data_size(data) <= budget for data in second.shards.values())


def test_a_new_link_over_the_per_link_limit_is_refused_and_takes_nothing() -> None:
    budget = 64 * 1024
    huge = link(
        "huge", "https://e.com/", slug="huge", aliases=["h1", "h2"], rules=long_rules(8, 4, 900)
    )
    small = link("small", "https://small.example/", slug="small")
    result = plan([huge, small], settings=settings(budget), now=NOW)
    assert served(result) == {"small": "https://small.example/"}
    ready = condition(result, "huge")
    assert (ready["status"], ready["reason"]) == ("False", "CapacityExceeded")
    assert f"more than one link may take: {link_limit(budget)} bytes" in ready["message"]
    assert "shortlink-routes-000" in ready["message"]


def test_an_alias_that_does_not_fit_is_named_in_the_message() -> None:
    budget = 4096
    late = replace(
        link("late", "https://late.example/", slug="late", aliases=["l1"]), created="2027"
    )

    def fillers(extra: int) -> list[IndexedLink]:
        return [
            link(
                f"f{i}", "https://f.example/" + "y" * (300 + (extra if i < 2 else 0)), slug=f"f{i}"
            )
            for i in range(10)
        ]

    # Leave room for one more entry of `late` (about 80 bytes), not two.
    alone = plan(fillers(0), settings=settings(budget), now=NOW)
    free = budget - data_size(alone.shards["shortlink-routes-000"])
    result = plan([*fillers((free - 120) // 2), late], settings=settings(budget), now=NOW)
    assert all(data_size(data) <= budget for data in result.shards.values())
    assert set(served(result)) == {f"f{i}" for i in range(10)} | {"late"}
    status = result.statuses[late.key]
    assert status["aliases"] is None
    ready = status["conditions"][0]
    assert ready["reason"] == "Published"
    assert "alias 'l1' needs" in ready["message"]
    assert "shortlink-routes-000" in ready["message"]


def test_holds_count_against_the_budget() -> None:
    budget = 4096
    links = [link(f"l{i}", "https://e.com/" + "y" * 200, slug=f"l{i}") for i in range(14)]
    first = plan(links, settings=replace(settings(budget), grace_seconds=300), now=NOW)
    before = settle(links, first)
    # Half go (their slugs are held), and as many newcomers want in.
    newcomers = [
        replace(link(f"n{i}", "https://e.com/" + "y" * 200, slug=f"n{i}"), created="2027")
        for i in range(7)
    ]
    second = plan(
        [*before[7:], *newcomers],
        settings=replace(settings(budget), grace_seconds=300),
        now=NOW,
        table=TableReader().read(first.shards),
    )
    assert all(data_size(data) <= budget for data in second.shards.values())
    assert len(second.shards["shortlink-routes-000"].get("released.json", "")) > 0


def test_random_growth_never_overfills_a_shard_nor_drops_a_served_link() -> None:
    """Many rounds of random links growing and shrinking against random budgets."""
    rng = random.Random(12)  # noqa: S311 - reproducible test data
    for _ in range(40):
        budget = rng.choice([4096, 6000, 9000])
        shards = rng.choice([1, 2, 3])
        config = settings(budget, shards)
        links = [
            link(
                f"l{i}",
                f"https://e.com/{i}/" + "u" * rng.randrange(0, 400),
                slug=f"l{i}",
                aliases=[f"l{i}-a{j}" for j in range(rng.randrange(0, 3))],
            )
            for i in range(rng.randrange(5, 40))
        ]
        first = plan(links, settings=config, now=NOW)
        assert all(data_size(d) <= budget for d in first.shards.values())
        table = TableReader().read(first.shards)
        was = served(first)
        current = settle(links, first)
        changed = []
        for li in current:
            if rng.random() < 0.4:
                assert li.link is not None
                grown = link(
                    li.name,
                    f"https://e.com/{li.name}/v2/" + "g" * rng.randrange(0, 1500),
                    generation=2,
                    slug=li.name,
                    aliases=list(li.link.aliases),
                )
                changed.append(replace(grown, status=li.status))
            else:
                changed.append(li)
        second = plan(changed, settings=config, now=NOW, table=table)
        assert all(data_size(d) <= budget for d in second.shards.values())
        now_served = served(second)
        assert set(was) <= set(now_served), set(was) - set(now_served)
        for li in changed:
            reason = second.statuses.get(li.key, li.status)["conditions"][0]["reason"]
            if reason == "Published":
                assert li.link is not None
                assert now_served[li.name] == li.link.url


def test_the_table_state_gives_back_served_entries_byte_for_byte() -> None:
    links = [link("a", "https://e.com/a", slug="a", aliases=["b"], rules=long_rules(1, 2, 10))]
    result = plan(links, settings=settings(4096), now=NOW)
    state: TableState = TableReader().read(result.shards)
    routes = result.shards["shortlink-routes-000"]["routes.json"]
    for key in ("/a", "/b"):
        entry = state.entry(key)
        assert entry is not None
        assert entry in routes
    assert state.entry("/nothing") is None
