"""Status the way the Kubernetes API conventions shape it.

`Ready` summarises a link: True once it is served, False with a CamelCase reason and a message
otherwise. `lastTransitionTime` changes only when `status` flips, and `desired_status` returns None
when the object already says what it should, so a pass over unchanged links writes nothing.

The publisher owns `Ready` and the fields beside it; other conditions (`TargetReachable`, written
by `prober`) belong to their writers. A status write is a merge patch, which replaces the whole
`conditions` list, so the publisher's write carries the others along as it last saw them, and only
`Ready` decides whether the publisher has anything to write (`describes`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

READY: Final = "Ready"


class Reason(StrEnum):
    """Reasons on the `Ready` condition; one per outcome a user can act on.

    The one list of them: the planner sets them, and the metrics count every one (at 0 before a
    link has it). The CRD's condition description and the README name the same ten.
    """

    PUBLISHED = "Published"
    INVALID_SPEC = "InvalidSpec"
    SLUG_CONFLICT = "SlugConflict"
    SUSPENDED = "Suspended"
    SCHEDULED = "Scheduled"
    EXPIRED = "Expired"
    POLICY_VIOLATION = "PolicyViolation"
    CAPACITY_EXCEEDED = "CapacityExceeded"
    #: The object `spec.targetRef` names does not exist (or its API is not installed).
    TARGET_NOT_FOUND = "TargetNotFound"
    #: It exists, but gives no address, or one the URL judge refuses.
    TARGET_UNRESOLVABLE = "TargetUnresolvable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the operator concluded about one link in this pass."""

    ready: bool
    reason: Reason
    message: str
    slug: str | None = None
    short_url: str | None = None
    aliases: tuple[str, ...] = ()
    #: The URL a `spec.targetRef` resolved to (None for a link with `spec.url`).
    resolved_url: str | None = None


def desired_status(
    current: Mapping[str, Any], outcome: Outcome, *, generation: int, now: str
) -> dict[str, Any] | None:
    """The status to write for `outcome`, or None if `current` already says it."""
    flag = "True" if outcome.ready else "False"
    previous = _find_condition(current.get("conditions"), READY)
    unchanged_flag = previous is not None and previous.get("status") == flag
    transition_time = previous.get("lastTransitionTime") if unchanged_flag and previous else now
    condition = {
        "type": READY,
        "status": flag,
        "observedGeneration": generation,
        "lastTransitionTime": transition_time or now,
        "reason": outcome.reason.value,
        "message": outcome.message,
    }
    others = [
        other
        for other in current.get("conditions") or ()
        if not (isinstance(other, Mapping) and other.get("type") == READY)
    ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "slug": outcome.slug,
        "shortURL": outcome.short_url,
        "aliases": list(outcome.aliases) or None,
        "conditions": [condition, *others],
    }
    if outcome.resolved_url is not None or current.get("resolvedURL") is not None:
        status["resolvedURL"] = outcome.resolved_url  # None (a merge patch's null) removes it
    return None if describes(current, status) else status


def describes(current: Mapping[str, Any], written: Mapping[str, Any]) -> bool:
    """Whether `current` says what the publisher's status `written` says: the same fields and the
    same `Ready` condition (other conditions, and fields the publisher does not write, aside)."""
    for key, value in written.items():
        if key == "conditions":
            if _find_condition(current.get(key), READY) != _find_condition(value, READY):
                return False
        elif current.get(key) != value:
            return False
    return True


def current_reason(status: Mapping[str, Any]) -> str | None:
    """The reason of the `Ready` condition in `status`, or None before there is one."""
    condition = _find_condition(status.get("conditions"), READY)
    return None if condition is None else condition.get("reason")


def _find_condition(conditions: object, kind: str) -> Mapping[str, Any] | None:
    if isinstance(conditions, list):
        for condition in conditions:
            # `dict` first: a pass looks at every link's conditions, and the ABC check is slow.
            if (type(condition) is dict or isinstance(condition, Mapping)) and condition.get(
                "type"
            ) == kind:
                return condition
    return None
