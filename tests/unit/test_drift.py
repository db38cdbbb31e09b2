"""The operator tells its own table writes from drift (a shard deleted, edited or added by hand).

Its own writes must never start a pass: not when their watch events come back before the write's
answer does, and not when they arrive after later passes wrote again.
"""

from shortlink_operator.drift import OwnWrites
from shortlink_operator.kube import TableEvent


def modified(name: str, version: str) -> TableEvent:
    return TableEvent("MODIFIED", name, version)


def deleted(name: str, version: str = "99") -> TableEvent:
    return TableEvent("DELETED", name, version)


def test_nothing_is_drift_before_a_pass_planned() -> None:
    own = OwnWrites()
    assert not own.judging
    assert not own.is_drift(deleted("s"))
    assert not own.is_drift(modified("s", "1"))


def test_an_event_arriving_before_its_write_answers_is_held_and_then_known() -> None:
    own = OwnWrites()
    own.planned(["s"])
    assert not own.is_drift(modified("s", "5"))  # held: the write has not answered yet
    assert own.written({"s": "5"}) == []


def test_a_hand_edit_during_a_pass_is_drift_once_the_pass_wrote() -> None:
    own = OwnWrites()
    own.planned(["s", "t"])
    assert not own.is_drift(modified("t", "6"))
    assert own.written({"s": "5", "t": "4"}) == [modified("t", "6")]


def test_a_version_the_operator_did_not_write_is_drift() -> None:
    own = OwnWrites()
    own.planned(["s"])
    own.written({"s": "5"})
    assert own.is_drift(modified("s", "7"))  # edited by hand
    assert own.is_drift(modified("stray", "8"))  # added by hand


def test_deleting_a_planned_name_is_drift_and_an_unplanned_one_is_the_operators_own() -> None:
    own = OwnWrites()
    own.planned(["s"])
    own.written({"s": "5"})
    assert own.is_drift(deleted("s"))
    assert not own.is_drift(deleted("gone"))


def test_a_late_event_of_an_earlier_write_is_the_operators_own() -> None:
    own = OwnWrites()
    for version in ("5", "6", "7"):
        own.planned(["s"])
        own.written({"s": version})
    assert not own.is_drift(modified("s", "5"))
    assert not own.is_drift(modified("s", "6"))


def test_a_standby_judges_nothing() -> None:
    own = OwnWrites()
    own.planned(["s"])
    own.written({"s": "5"})
    own.forget()
    assert not own.is_drift(deleted("s"))
    assert not own.is_drift(modified("s", "9"))
