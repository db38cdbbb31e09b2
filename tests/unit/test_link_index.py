"""The operator's link index: events and one LIST, merged whatever order they arrive in."""

import json
from typing import Any

from shortlink_operator.link_index import LinkIndex, index_link


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


def test_a_listing_forgets_what_it_no_longer_holds_but_keeps_what_came_after_it() -> None:
    # The watch missed the deletion of "gone" (a 410 and kopf's re-listing yield no DELETED).
    index = LinkIndex()
    index.seed([body("gone", 3), body("stays", 4)], version=10)
    index.apply(body("newer", 12))  # created after the next listing's snapshot
    assert index.prune({("team", "stays")}, version=11)
    assert set(urls(index)) == {"stays", "newer"}
    assert not index.prune({("team", "stays")}, version=11)  # nothing more to forget


def test_a_late_copy_of_a_forgotten_object_does_not_bring_it_back() -> None:
    index = LinkIndex()
    index.seed([body("gone", 3)], version=10)
    index.prune(set(), version=20)
    assert not index.apply(body("gone", 15))  # an event from before the listing, still queued
    assert urls(index) == {}
    assert index.apply(body("gone", 25))  # created again after the listing
    assert set(urls(index)) == {"gone"}


def test_a_seed_with_its_version_prunes_objects_only_events_knew() -> None:
    index = LinkIndex()
    index.apply(body("old", 3))  # from kopf, deleted before the LIST's snapshot
    index.apply(body("new", 30))  # from kopf, created after it
    index.seed([body("listed", 5)], version=20)
    assert set(urls(index)) == {"listed", "new"}


def test_tombstones_expire_after_the_next_listing() -> None:
    index = LinkIndex()
    for i in range(100):
        index.apply(body(f"l{i}", i + 1))
        index.apply(body(f"l{i}", i + 200), deleted=True)
    assert index.tombstones == 100
    index.prune(set(), version=1000)  # the listing that outdates them
    index.prune(set(), version=2000)  # ... and the one after it: they have done their job
    assert index.tombstones == 0


def test_kopf_listing_again_is_noticed_once() -> None:
    index = LinkIndex()
    for name in ("a", "b"):  # kopf's first listing (at start-up) is no news
        index.apply(body(name, 1), listed=True)
    assert not index.relisted()
    index.apply(body("c", 2))  # a watch event: kopf is watching now
    index.apply(body("c", 2), listed=True)  # kopf lists again after a watch gap
    assert index.relisted()
    index.apply(body("a", 1), listed=True)  # the rest of that listing
    assert not index.relisted()
    index.apply(body("d", 3))
    index.apply(body("d", 3), listed=True)  # and the next one
    assert index.relisted()


def test_the_copy_already_known_is_not_read_again() -> None:
    # kopf lists at start-up what seeding just read: 100,000 links parsed twice made restarts slow.
    index = LinkIndex()
    index.seed([body("a", 7)])
    (known,) = index.snapshot()
    assert index.apply(body("a", 7), listed=True) is False
    assert index.snapshot()[0] is known


def test_a_status_coming_back_keeps_the_parsed_spec_already_held() -> None:
    # One parsed copy of each spec in memory, and the planner sees at once that it is unchanged.
    index = LinkIndex()
    index.apply(body("a", 1))
    (before,) = index.snapshot()
    with_status = {**body("a", 2), "status": {"observedGeneration": 1}}
    assert index.apply(with_status) is False
    (after,) = index.snapshot()
    assert after.status == {"observedGeneration": 1}
    assert after.link is before.link


def test_statuses_parsed_apart_share_their_keys_and_short_strings_and_stay_equal() -> None:
    # Each watch event is parsed on its own: without sharing, every link held its own copy of
    # the same keys and values, half the bytes of its status.
    status = {
        "observedGeneration": 1,
        "slug": "abc",
        "shortURL": "https://go.example/" + "x" * 40,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastTransitionTime": "2026-12-02T04:56:40Z",
                "reason": "Published",
                "message": "served at https://go.example/" + "x" * 40,
            }
        ],
    }
    one, two = (
        index_link({**body(name, 1), "status": json.loads(json.dumps(status))})
        for name in ("a", "b")
    )
    assert one.status == two.status == status
    [first], [second] = one.status["conditions"], two.status["conditions"]
    for key in ("type", "status", "lastTransitionTime", "reason"):
        assert first[key] is second[key]
    assert all(a is b for a, b in zip(first, second, strict=True))  # the keys
    assert all(a is b for a, b in zip(one.status, two.status, strict=True))
