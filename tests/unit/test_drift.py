"""The operator tells its own table writes from drift (a shard deleted, edited or added by hand).

Its own writes must never start a pass: not when their watch events come back before the write's
answer does, and not when they arrive after the next pass has planned something else.
"""

from shortlink_operator.drift import OwnWrites
from shortlink_operator.kube import TableEvent

A = {"format": "2", "routes.json": "{}"}
B = {"format": "2", "routes.json": '{"/x":{}}'}


def event(name: str, version: str, data: dict[str, str] | None) -> TableEvent:
    return TableEvent("DELETED" if data is None else "MODIFIED", name, version, data)


def test_nothing_is_drift_before_a_pass_planned() -> None:
    own = OwnWrites()
    assert not own.judging
    assert not own.is_drift(event("s", "1", None))


def test_the_planned_data_is_the_operators_own_even_before_the_write_answers() -> None:
    own = OwnWrites()
    own.planned({"s": A})
    assert not own.is_drift(event("s", "5", A))
    assert own.is_drift(event("s", "6", B))  # edited by hand


def test_deleting_a_planned_shard_or_adding_an_unplanned_one_is_drift() -> None:
    own = OwnWrites()
    own.planned({"s": A})
    own.known({"s": "5"})
    assert own.is_drift(event("s", "7", None))
    assert own.is_drift(event("stray", "8", A))
    assert not own.is_drift(event("gone", "9", None))  # deleted, and not planned: ours


def test_a_late_event_of_an_earlier_write_is_the_operators_own() -> None:
    own = OwnWrites()
    own.planned({"s": A})
    own.known({"s": "5"})
    own.planned({"s": B})  # the next passes plan other copies before the first event arrives
    own.known({"s": "6"})
    own.planned({"s": A | {"x": "1"}})
    assert not own.is_drift(event("s", "5", A))
    assert not own.is_drift(event("s", "6", B))
    assert own.is_drift(event("s", "7", B))  # a version the operator never wrote


def test_the_manifest_planned_after_the_shards_is_the_operators_own() -> None:
    own = OwnWrites()
    own.planned({"s": A})
    own.expect("manifest", B)
    assert not own.is_drift(event("manifest", "3", B))
    assert own.is_drift(event("manifest", "4", None))


def test_a_standby_judges_nothing() -> None:
    own = OwnWrites()
    own.planned({"s": A})
    own.forget()
    assert not own.is_drift(event("s", "7", None))
