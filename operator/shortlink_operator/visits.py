"""Visits of each link as Prometheus counts them, and which `status.visits` must change (pure).

The redirector counts redirects in `shortlink_redirects_total{namespace,name,code}`; Prometheus is
the system of record. Each poll asks it four instant questions, all evaluated at the same moment:
how much each link's counters grew over the last 24 hours, 7 days and 30 days (summed over codes
and redirector pods, so replicas and restarts add up), and over the last *lookback* (the poll
interval plus a margin for scrapes); only links that grew come back. This module writes those
queries, reads their answers into `Visits` values, and diffs them against the statuses the links
carry, so only links whose numbers changed are written.

`lastVisitTime` is the evaluation time of a poll whose lookback saw the counter grow. Polls'
lookbacks overlap (so no visit falls between two), hence it is never earlier than the real last
visit and at most one lookback later. It needs no memory in the operator: the status itself
remembers it between polls and across restarts.

Prometheus's `increase()` extrapolates to the ends of its window, so counts are estimates rounded
to whole visits; each is at least the shorter window's (a 7-day count never below the 24-hour one).
A link without a `status.visits` and without visits has nothing written, so links nobody follows
cost no writes at all.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from shortlink_core.series import OVERFLOW, REDIRECTS, total
from shortlink_operator.link_index import IndexedLink

METRIC: Final = total(REDIRECTS)
#: The windows reported in status.visits, by field name, as PromQL durations.
WINDOWS: Final = (("last24h", "24h"), ("last7d", "7d"), ("last30d", "30d"))
RECENT: Final = "recent"
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Visits:
    """One link's `status.visits`."""

    last24h: int = 0
    last7d: int = 0
    last30d: int = 0
    #: RFC 3339, whole seconds; None until a visit has been seen.
    last_visit_time: str | None = None

    def to_status(self) -> dict[str, Any]:
        """The `status.visits` object (a merge patch: a None removes the field)."""
        return {
            "last24h": self.last24h,
            "last7d": self.last7d,
            "last30d": self.last30d,
            "lastVisitTime": self.last_visit_time,
        }


NO_VISITS: Final = Visits()


def queries(*, lookback_seconds: int) -> dict[str, str]:
    """The PromQL of each answer a poll needs, by name (the `Visits` field or `RECENT`)."""
    series = f'{METRIC}{{namespace!="{OVERFLOW}"}}'
    windows = [*WINDOWS, (RECENT, f"{lookback_seconds}s")]
    # `> 0`: only links with visits come back, so an answer grows with the links people follow,
    # not with every link served (absent means none).
    return {
        name: f"sum by (namespace, name) (increase({series}[{window}])) > 0"
        for name, window in windows
    }


def read_vector(result: Iterable[Mapping[str, Any]]) -> dict[Key, float]:
    """An instant vector from Prometheus's JSON (`data.result`) as {(namespace, name): value}.

    A sample without both labels, or with a value that is not a finite positive number, is left
    out: absent means no visits.
    """
    values: dict[Key, float] = {}
    for sample in result:
        labels = sample.get("metric") or {}
        namespace, name = labels.get("namespace"), labels.get("name")
        try:
            value = float(sample["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if namespace and name and 0 < value < float("inf"):
            values[(namespace, name)] = value
    return values


def current_visits(status: Mapping[str, Any]) -> Visits:
    """What a link's status says now; no (or an unreadable) `visits` reads as no visits."""
    visits = status.get("visits")
    if not isinstance(visits, Mapping):
        return NO_VISITS
    last_visit = visits.get("lastVisitTime")
    return Visits(
        last24h=_count(visits.get("last24h")),
        last7d=_count(visits.get("last7d")),
        last30d=_count(visits.get("last30d")),
        last_visit_time=last_visit if isinstance(last_visit, str) else None,
    )


def wanted_visits(
    answers: Mapping[str, Mapping[Key, float]], key: Key, *, current: Visits, now: float
) -> Visits:
    """The `Visits` a link should show, from a poll's `answers` evaluated at `now` (Unix time).

    A link absent from an answer had no visits in that window (or no series at all).
    """
    last24h = _whole(answers.get("last24h", {}).get(key, 0.0))
    last7d = max(last24h, _whole(answers.get("last7d", {}).get(key, 0.0)))
    last30d = max(last7d, _whole(answers.get("last30d", {}).get(key, 0.0)))
    recently = answers.get(RECENT, {}).get(key, 0.0) > 0
    last_visit = format_time(now) if recently else current.last_visit_time
    return Visits(last24h=last24h, last7d=last7d, last30d=last30d, last_visit_time=last_visit)


@dataclass(frozen=True, slots=True)
class Change:
    """A link whose `status.visits` should be written."""

    key: Key
    visits: Visits
    #: How much the 24-hour count moved: the bigger, the sooner it is written among equals.
    weight: int


def changes(
    links: Sequence[IndexedLink],
    answers: Mapping[str, Mapping[Key, float]],
    *,
    now: float,
    shown: Mapping[Key, Visits] | None = None,
) -> list[Change]:
    """Every link whose visits differ from what it shows; `shown` overrides a link's status with
    what was written but not yet seen back through the watch."""
    shown = shown or {}
    answered: set[Key] = set().union(*answers.values())
    found: list[Change] = []
    for link in links:
        key = link.key
        if key not in answered and key not in shown and "visits" not in link.status:
            continue  # no visits, none shown: the common case at scale, decided cheaply
        current = shown.get(key) or current_visits(link.status)
        wanted = wanted_visits(answers, key, current=current, now=now)
        if wanted != current:
            found.append(Change(key, wanted, abs(wanted.last24h - current.last24h)))
    return found


def write_order(pending: Iterable[Change], *, last_written: Mapping[Key, float]) -> list[Change]:
    """The order to write changes in under a write budget: never-written links first, then the
    longest unwritten, each group with the biggest movement first.

    When the budget cannot write every change before the next poll, the next poll starts with the
    links this one did not reach, so no link waits behind busy ones forever.
    """
    return sorted(pending, key=lambda c: (last_written.get(c.key, -1.0), -c.weight, c.key))


def format_time(unix: float) -> str:
    return datetime.fromtimestamp(int(unix), UTC).strftime(TIME_FORMAT)


def _whole(value: float) -> int:
    return max(0, round(value))


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
