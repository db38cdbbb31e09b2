"""What a probe of a link's target means, and the `TargetReachable` condition that says it (pure).

A target is the link's `url` as a visit to the bare slug reaches it (placeholders empty). Its
probe is `HEAD`, then `GET` when the server does not do `HEAD` (405, 501); the answer is the
`TargetReachable` condition of every link with that target:

- `False` when the target answers 404 Not Found, 410 Gone or a 5xx, or gives no answer (a
  timeout, a refused or reset connection, a name that does not resolve, a TLS failure, something
  that is not HTTP); the reason is `HTTP<status>` or the failure's word (`Timeout`...).
- `Unknown` with `AddressNotAllowed` when the target resolves only to addresses the prober may
  not connect to (`probe_addresses`): it was not probed.
- `True` for any other answer: 2xx; a 3xx, which is not followed (the redirect is the answer); and
  the other 4xx, such as 401, 403 or 429: the server is there, and the page may need a login or
  a browser.

`lastTransitionTime` moves only when the status flips, and `target_condition` returns None when
the link already says it, so an unchanged answer writes nothing.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from shortlink_core.templates import render
from shortlink_operator.http_probe import Answer, Failure
from shortlink_operator.link_index import IndexedLink

TARGET_REACHABLE: Final = "TargetReachable"
#: Answers meaning the server does not do HEAD: ask again with GET.
HEAD_REFUSED: Final = frozenset({405, 501})
#: Answers meaning the page is gone; with every 5xx, they make a target unreachable.
DEAD: Final = frozenset({404, 410})

State = Literal["reachable", "unreachable", "unknown"]
STATES: Final[tuple[State, ...]] = ("reachable", "unreachable", "unknown")
_STATUS: Final[Mapping[State, str]] = {
    "reachable": "True",
    "unreachable": "False",
    "unknown": "Unknown",
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the probes of one target concluded."""

    state: State
    reason: str
    message: str


def probe_target(link: IndexedLink) -> str | None:
    """The URL to probe for `link`, or None when its spec is invalid or its `targetRef` has not
    resolved (a `targetRef` link is probed at the URL its status shows, `resolvedURL`)."""
    if link.link is None:
        return None
    if link.link.target is not None:
        resolved = link.status.get("resolvedURL")
        return resolved if isinstance(resolved, str) and resolved else None
    return render(link.link.url, suffix="", query="")


def conclude(url: str, method: str, answer: Answer) -> ProbeResult:
    """The result of the last request of a probe (`method` is HEAD or GET)."""
    if answer.status is not None:
        dead = answer.status in DEAD or answer.status >= 500
        return ProbeResult(
            "unreachable" if dead else "reachable",
            f"HTTP{answer.status}",
            f"{method} {url} answered {answer.detail}",
        )
    assert answer.failure is not None
    state: State = "unknown" if answer.failure is Failure.ADDRESS_NOT_ALLOWED else "unreachable"
    return ProbeResult(state, answer.failure.value, f"{method} {url}: {answer.detail}")


def target_condition(
    status: Mapping[str, Any], result: ProbeResult, *, generation: int, now: str
) -> dict[str, Any] | None:
    """The `TargetReachable` condition to write for `result`, or None if `status` says it."""
    flag = _STATUS[result.state]
    previous = find_condition(status, TARGET_REACHABLE)
    kept = previous is not None and previous.get("status") == flag
    condition = {
        "type": TARGET_REACHABLE,
        "status": flag,
        "observedGeneration": generation,
        "lastTransitionTime": (previous or {}).get("lastTransitionTime") if kept else now,
        "reason": result.reason,
        "message": result.message,
    }
    condition["lastTransitionTime"] = condition["lastTransitionTime"] or now
    return None if same_condition(previous, condition) else condition


def same_condition(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two conditions say the same (their transition times aside)."""
    if a is None or b is None:
        return a is b
    keys = ("type", "status", "observedGeneration", "reason", "message")
    return all(a.get(key) == b.get(key) for key in keys)


def state_of(condition: Mapping[str, Any] | None) -> State:
    flag = None if condition is None else condition.get("status")
    if flag == "True":
        return "reachable"
    return "unreachable" if flag == "False" else "unknown"


def find_condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None
