"""The operator's link index: events and one LIST, merged whatever order they arrive in."""

from typing import Any

from shortlink_operator.link_index import LinkIndex


def body(name: str, version: int, url: str = "https://example.com/") -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "team",
            "name": name,
            "resourceVersion": str(version),
            "uid": name,
        },
        "spec": {"url": url},
    }


def urls(index: LinkIndex) -> dict[str, str]:
    return {link.name: link.link.url for link in index.snapshot() if link.link is not None}


def test_it_is_complete_only_after_a_listing() -> None:
    index = LinkIndex()
    index.apply(body("a", 5))
    before = index.complete
    index.seed([body("b", 3)])
    assert (before, index.complete) == (False, True)
    assert set(urls(index)) == {"a", "b"}


def test_a_newer_event_wins_over_an_older_listed_copy() -> None:
    index = LinkIndex()
    index.apply(body("a", 9, "https://new.example/"))
    index.seed([body("a", 4, "https://old.example/")])
    assert urls(index) == {"a": "https://new.example/"}


def test_a_deletion_is_not_undone_by_an_older_listing() -> None:
    index = LinkIndex()
    index.apply(body("a", 7), deleted=True)
    index.seed([body("a", 4)])
    assert urls(index) == {}


def test_a_link_recreated_after_its_deletion_comes_back() -> None:
    index = LinkIndex()
    index.apply(body("a", 4))
    index.apply(body("a", 7), deleted=True)
    index.apply(body("a", 12, "https://again.example/"))
    assert urls(index) == {"a": "https://again.example/"}


def test_only_changes_a_plan_reads_ask_for_a_pass() -> None:
    index = LinkIndex()
    assert index.apply(body("a", 4))  # a new link
    assert not index.apply(body("a", 4))  # the same copy again (a watch restart's listing)
    with_status = {**body("a", 5), "status": {"observedGeneration": 1}}
    assert not index.apply(with_status)  # the operator's own status write coming back
    assert index.apply(body("a", 6, "https://new.example/"))  # a new target
    assert not index.apply(body("a", 3, "https://old.example/"))  # an older copy
    assert index.apply(body("a", 7), deleted=True)
    assert not index.apply(body("a", 8), deleted=True)  # already gone


def test_a_visits_write_coming_back_asks_for_no_pass() -> None:
    index = LinkIndex()
    index.apply(body("a", 1))
    visited = body("a", 2)
    visited["status"] = {"visits": {"last24h": 3, "last7d": 3, "last30d": 3}}
    assert index.apply(visited) is False
    assert index.snapshot()[0].status["visits"]["last24h"] == 3
