"""From the set of links to the table and the statuses: one answer per set, only what changed."""

import itertools
from dataclasses import replace

from shortlink_core.link import Link
from shortlink_core.table import decode_shard
from shortlink_operator.links import IndexedLink, index_link
from shortlink_operator.planning import plan


def obj(
    name: str,
    url: str,
    *,
    slug: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
    ns: str = "team",
) -> dict[str, object]:
    spec: dict[str, object] = {"url": url}
    if slug:
        spec["slug"] = slug
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


def served(links: list[IndexedLink]) -> dict[str, str]:
    result = plan(links, base_url="https://go.example", shard_count=4, now="T")
    return {r.slug: r.url for data in result.shards.values() for r in decode_shard(data).routes}


def test_valid_links_are_served_and_invalid_ones_are_not() -> None:
    links = [
        index_link(obj("docs", "https://example.com/docs")),
        index_link(obj("bad", "javascript:x")),
    ]
    assert served(links) == {"docs": "https://example.com/docs"}


def test_statuses_say_what_happened_to_each_link() -> None:
    links = [
        index_link(obj("first", "https://one.example/", slug="x", created="2026-01-01T00:00:00Z")),
        index_link(obj("second", "https://two.example/", slug="x", created="2026-01-02T00:00:00Z")),
        index_link(obj("bad", "file:///etc/passwd")),
    ]
    statuses = plan(links, base_url="https://go.example", shard_count=4, now="T").statuses
    ready = {key[1]: status["conditions"][0] for key, status in statuses.items()}
    assert (ready["first"]["status"], ready["first"]["reason"]) == ("True", "Published")
    assert statuses[("team", "first")]["shortURL"] == "https://go.example/x"
    assert ready["second"]["reason"] == "SlugConflict"
    assert "team/first" in ready["second"]["message"]
    assert ready["bad"]["reason"] == "InvalidSpec"
    assert "http:// or https://" in ready["bad"]["message"]


def test_same_links_give_the_same_table_in_any_order() -> None:
    links = [index_link(obj(f"l{i}", f"https://e.com/{i}", slug=f"s{i % 3}")) for i in range(6)]
    tables = {
        tuple(
            sorted(
                (k, tuple(sorted(v.items())))
                for k, v in plan(order, base_url="b", shard_count=4, now="T").shards.items()
            )
        )
        for order in itertools.permutations(links)
    }
    assert len(tables) == 1


def test_no_status_to_write_when_every_link_already_shows_its_outcome() -> None:
    links = [index_link(obj("docs", "https://example.com/docs"))]
    first = plan(links, base_url="b", shard_count=4, now="T1")
    settled = [replace(link, status=first.statuses[link.key]) for link in links]
    assert plan(settled, base_url="b", shard_count=4, now="T2").statuses == {}


def test_link_model_round_trip_through_the_table() -> None:
    link = index_link(obj("docs", "https://example.com/docs", slug="d"))
    assert link.link == Link(slug="d", url="https://example.com/docs", redirect_code=302)
