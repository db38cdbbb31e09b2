"""Status shaped by the API conventions: Ready, reasons, observedGeneration, transition times."""

from shortlink_operator.conditions import Outcome, Reason, describes, desired_status

PUBLISHED = Outcome(
    True, Reason.PUBLISHED, "served at http://s/x", slug="x", short_url="http://s/x"
)
CONFLICT = Outcome(False, Reason.SLUG_CONFLICT, "slug 'x' is already served by ShortLink a/b")


def test_first_status_sets_every_field() -> None:
    status = desired_status({}, PUBLISHED, generation=3, now="T1")
    assert status == {
        "observedGeneration": 3,
        "slug": "x",
        "shortURL": "http://s/x",
        "aliases": None,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "observedGeneration": 3,
                "lastTransitionTime": "T1",
                "reason": "Published",
                "message": "served at http://s/x",
            }
        ],
    }


def test_nothing_to_write_when_status_already_says_it() -> None:
    current = desired_status({}, PUBLISHED, generation=3, now="T1")
    assert current is not None
    assert desired_status(current, PUBLISHED, generation=3, now="T2") is None


def test_transition_time_moves_only_when_ready_flips() -> None:
    published = desired_status({}, PUBLISHED, generation=1, now="T1")
    assert published is not None
    # A new generation that is still published: new observedGeneration, same transition time.
    republished = desired_status(published, PUBLISHED, generation=2, now="T2")
    assert republished is not None
    assert republished["conditions"][0]["lastTransitionTime"] == "T1"
    assert republished["observedGeneration"] == 2
    # Losing the slug flips Ready: the transition time moves, slug and shortURL are cleared.
    lost = desired_status(republished, CONFLICT, generation=2, now="T3")
    assert lost is not None
    assert lost["conditions"][0]["lastTransitionTime"] == "T3"
    assert lost["conditions"][0]["status"] == "False"
    assert (lost["slug"], lost["shortURL"]) == (None, None)


REACHABLE = {
    "type": "TargetReachable",
    "status": "True",
    "observedGeneration": 1,
    "lastTransitionTime": "T0",
    "reason": "HTTP200",
    "message": "HEAD answered 200",
}


def test_a_ready_write_keeps_the_other_conditions() -> None:
    # The prober writes TargetReachable; a merge patch replaces the whole list, so the
    # publisher's write must carry it along or it would erase it.
    published = desired_status({}, PUBLISHED, generation=1, now="T1")
    assert published is not None
    current = {**published, "conditions": [*published["conditions"], REACHABLE]}
    lost = desired_status(current, CONFLICT, generation=1, now="T2")
    assert lost is not None
    assert [c["type"] for c in lost["conditions"]] == ["Ready", "TargetReachable"]
    assert lost["conditions"][1] == REACHABLE


def test_another_condition_alone_is_no_reason_to_write() -> None:
    published = desired_status({}, PUBLISHED, generation=1, now="T1")
    assert published is not None
    with_probe = {**published, "conditions": [REACHABLE, *published["conditions"]]}
    assert desired_status(with_probe, PUBLISHED, generation=1, now="T2") is None


def test_describes_compares_ready_and_the_publishers_fields_only() -> None:
    published = desired_status({}, PUBLISHED, generation=1, now="T1")
    assert published is not None
    seen = {**published, "conditions": [*published["conditions"], REACHABLE], "visits": {}}
    assert describes(seen, published)
    assert not describes({**seen, "slug": "y"}, published)
    conflict = desired_status(published, CONFLICT, generation=1, now="T2")
    assert conflict is not None
    assert not describes(seen, conflict)
