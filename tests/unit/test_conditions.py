"""Status shaped by the API conventions: Ready, reasons, observedGeneration, transition times."""

from shortlink_operator.conditions import Outcome, Reason, desired_status

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
