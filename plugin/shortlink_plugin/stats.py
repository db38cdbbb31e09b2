"""`kubectl shortlink stats`: a link's visits over 24 hours, 7 and 30 days, from Prometheus.

Prometheus is the system of record for visits: the redirectors count redirects per link
(`shortlink_redirects_total{namespace,name,code}`) and per visitor and referrer class; it scrapes
them. This module writes the PromQL (every answer evaluated at one moment, summed over codes and
redirector pods, so replicas and restarts add up), asks Prometheus's HTTP API, and lays the
answers out. The classes are counted per redirector, not per link (per-link classes would
multiply the series by seven), so they describe all links served: the output says so.

Without a Prometheus address the command shows what the operator copied into `status.visits`
(when it runs with `--prometheus-url`), which has no classes.
"""

import itertools
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from shortlink_core.series import (
    REDIRECTS,
    REFERRER_CLASSES,
    VISITOR_CLASSES,
    VISITS_BY_REFERRER_CLASS,
    VISITS_BY_VISITOR_CLASS,
    total,
)

CLASS_METRICS: Final = {
    "visitors": total(VISITS_BY_VISITOR_CLASS),
    "referrers": total(VISITS_BY_REFERRER_CLASS),
}
#: The windows shown, as PromQL durations, in the order of the output's columns.
WINDOWS: Final = ("24h", "7d", "30d")
TIMEOUT_SECONDS: Final = 30.0

#: Asks Prometheus one instant query at a time (Unix seconds); returns `data.result`.
Query = Callable[[str, float], Sequence[Mapping[str, Any]]]


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not answer a query."""


@dataclass(frozen=True, slots=True)
class Stats:
    """A link's visits per window and all links' visits per class and window."""

    namespace: str
    name: str
    slug: str
    visits: dict[str, int]
    #: "visitors"/"referrers" → class → window → visits (all links these redirectors serve).
    classes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "slug": self.slug,
            "visits": self.visits,
            "allLinks": self.classes,
        }


def _label(value: str) -> str:
    """A PromQL string literal (JSON's escaping is a subset of PromQL's)."""
    return json.dumps(value)


def link_query(namespace: str, name: str, window: str) -> str:
    selector = f"{total(REDIRECTS)}{{namespace={_label(namespace)},name={_label(name)}}}"
    return f"sum(increase({selector}[{window}]))"


def class_query(metric: str, window: str) -> str:
    return f"sum by (class) (increase({metric}[{window}]))"


def _whole(value: object) -> int:
    """Prometheus's extrapolated estimate as whole visits; what is not a finite number is 0."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return round(number) if math.isfinite(number) and number > 0 else 0


def collect(query: Query, *, namespace: str, name: str, slug: str, at: float) -> Stats:
    """Ask every question of `query` at the moment `at`."""
    visits: dict[str, int] = {}
    for window in WINDOWS:
        result = query(link_query(namespace, name, window), at)
        visits[window] = _whole(result[0]["value"][1]) if result else 0
    # A longer window never counts fewer (each estimate is extrapolated on its own).
    for shorter, longer in itertools.pairwise(WINDOWS):
        visits[longer] = max(visits[longer], visits[shorter])
    classes: dict[str, dict[str, dict[str, int]]] = {}
    for kind, names in (("visitors", VISITOR_CLASSES), ("referrers", REFERRER_CLASSES)):
        table = {cls: dict.fromkeys(WINDOWS, 0) for cls in names}
        for window in WINDOWS:
            for sample in query(class_query(CLASS_METRICS[kind], window), at):
                cls = (sample.get("metric") or {}).get("class")
                if cls in table:
                    table[cls][window] = _whole(sample["value"][1])
        classes[kind] = table
    return Stats(namespace=namespace, name=name, slug=slug, visits=visits, classes=classes)


def from_status(status: Mapping[str, Any], *, namespace: str, name: str, slug: str) -> Stats:
    """The visits the operator copied into `status.visits` (no classes)."""
    visits = status.get("visits") if isinstance(status.get("visits"), Mapping) else {}
    assert isinstance(visits, Mapping)
    fields = {"24h": "last24h", "7d": "last7d", "30d": "last30d"}
    counts = {window: _whole(visits.get(key)) for window, key in fields.items()}
    return Stats(namespace=namespace, name=name, slug=slug, visits=counts)


def render(stats: Stats) -> str:
    """The output for people: the link's row, then all links' classes, as shares of visits."""
    lines = [f"ShortLink {stats.namespace}/{stats.name} (/{stats.slug})"]
    width = max(len(c) for c in (*VISITOR_CLASSES, *REFERRER_CLASSES, "visits")) + 2
    header = "".join(f"{w:>10}" for w in WINDOWS)
    lines.append(f"{'':<{width}}{header}")
    lines.append(f"{'visits':<{width}}" + "".join(f"{stats.visits[w]:>10}" for w in WINDOWS))
    for kind, table in stats.classes.items():
        lines.append("")
        lines.append(f"{kind} of all links served (counted per redirector, not per link):")
        totals = {w: sum(row[w] for row in table.values()) for w in WINDOWS}
        for cls, row in table.items():
            cells = "".join(f"{_share(row[w], totals[w]):>10}" for w in WINDOWS)
            lines.append(f"{cls:<{width}}{cells}")
    return "\n".join(lines) + "\n"


def _share(part: int, total: int) -> str:
    return f"{100 * part / total:.0f} %" if total else "-"


def http_query(base_url: str) -> Query:
    """A `Query` against Prometheus's HTTP API at `base_url` (e.g. http://prometheus:9090)."""

    def query(expr: str, at: float) -> Sequence[Mapping[str, Any]]:
        parameters = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        url = f"{base_url.rstrip('/')}/api/v1/query?{parameters}"
        if not url.startswith(("http://", "https://")):
            raise PrometheusError(f"--prometheus-url must be an http(s) URL, not {base_url!r}")
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise PrometheusError(f"cannot ask Prometheus at {base_url}: {error}") from None
        if answer.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {expr!r}: {answer.get('error', answer)}")
        result: Sequence[Mapping[str, Any]] = answer["data"]["result"]
        return result

    return query
