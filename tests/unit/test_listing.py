"""The front page's listing: only listed links, per host, searched and ranked within bounds."""

import pytest

from shortlink_core.link import Link
from shortlink_core.table import Route
from shortlink_redirector import listing as listing_module
from shortlink_redirector.listing import MAX_RESULTS, TOP, TOP_SECONDS, Listing
from shortlink_redirector.metrics import LinkCounter, LinkCounters
from shortlink_redirector.table import ServedRoute, prepare


def served(
    slug: str,
    *,
    name: str = "",
    host: str = "",
    listed: bool | None = True,
    description: str = "",
    counters: LinkCounters | None = None,
) -> ServedRoute:
    link = Link(url="https://e.com/", slug=slug, host=host, listed=listed, description=description)
    route = Route(slug=slug, link=link, namespace="ns", name=name or slug)
    counter = (counters or LinkCounters()).for_link("ns", name or slug, 302)
    return prepare(route, counter, max_age=0)


def test_only_listed_links_are_listed_one_entry_per_link() -> None:
    counters = LinkCounters()
    listing = Listing.build(
        [
            served("handbook", counters=counters),
            served("hb", name="handbook", counters=counters),
            served("quiet", listed=None),
            served("off", listed=False),
        ]
    )
    (entry,) = listing.visible("any.example")
    assert (entry.slug, entry.aliases) == ("handbook", ("hb",))


def test_a_host_sees_host_less_links_and_its_own_only() -> None:
    listing = Listing.build(
        [served("all"), served("mine", host="a.example"), served("theirs", host="b.example")]
    )
    assert [e.slug for e in listing.visible("a.example")] == ["all", "mine"]
    assert [e.slug for e in listing.visible("c.example")] == ["all"]
    assert listing.search("c.example", "theirs") == []


def test_search_needs_every_word_ranks_slug_prefixes_first_and_is_capped() -> None:
    listing = Listing.build(
        [served("docs-team", description="Team docs"), served("team-docs"), served("other")]
        + [served(f"x-{i:02d}", description="many") for i in range(MAX_RESULTS + 5)]
    )
    assert [e.slug for e in listing.search("", "TEAM docs")] == ["team-docs", "docs-team"]
    assert len(listing.search("", "many")) == MAX_RESULTS
    assert listing.search("", "   ") == []


class FakeClock:
    def __init__(self, now: list[float]) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now[0]


def test_most_visited_is_ranked_capped_and_recomputed_only_after_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = [served(f"l{i:02d}") for i in range(TOP + 3)]
    for rank, route in enumerate(routes):
        route.counter.value = rank
    listing = Listing.build(routes)
    clock = [1000.0]
    monkeypatch.setattr(listing_module, "time", FakeClock(clock))
    top = listing.most_visited("")
    assert [e.slug for e in top] == [f"l{i:02d}" for i in range(TOP + 2, 2, -1)]
    routes[0].counter.value = 10_000
    assert listing.most_visited("") == top  # reused within TOP_SECONDS
    clock[0] += TOP_SECONDS
    assert listing.most_visited("")[0].slug == "l00"


def test_links_without_a_counter_of_their_own_show_no_visits() -> None:
    counters = LinkCounters(limit=1)
    first, second = served("a", counters=counters), served("b", counters=counters)
    first.counter.value = second.counter.value = 3
    assert isinstance(second.counter, LinkCounter)
    visits = {e.slug: e.visits for e in Listing.build([first, second]).visible("")}
    assert visits == {"a": 3, "b": 0}


def test_a_search_walks_the_rarest_word_yet_ranks_by_the_first() -> None:
    listing = Listing.build(
        [served(f"team-{i:03d}", description="shared words") for i in range(300)]
        + [served("zebra-team", description="shared words, rare")]
    )
    # "team" is everywhere (more than MAX_MATCHES entries); "rare" is in one: it is still found.
    assert [e.slug for e in listing.search("", "team rare")] == ["zebra-team"]
    assert [e.slug for e in listing.search("", "rare zebra")] == ["zebra-team"]
    assert listing.search("", "team nowhere") == []
