"""What the redirector exports to Prometheus (served on its own port by `__main__`).

Everything counted on the hot path is a plain integer (or a list of them) bumped in place, without
a lock (only the event loop's thread counts; the table follower's thread only adds and forgets
per-link counters, see `LinkCounters`), and turned into metric families by custom collectors only
when Prometheus scrapes. A prometheus-client labelled child costs about 5 µs per increment; a list
slot costs tens of nanoseconds.

Cardinality is bounded by construction: per-link labels come only from the ShortLink objects
(namespace, name, code), never from the request, and at most `max_link_series` links get a series
of their own; the rest are folded into one overflow series per code. Visitor and referrer classes
are fixed sets, and the latency histogram has fixed buckets.
"""

import platform
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import (
    CounterMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from shortlink_core.series import (
    OVERFLOW,
    REDIRECTS,
    REFERRER_CLASSES,
    VISITOR_CLASSES,
    VISITS_BY_REFERRER_CLASS,
    VISITS_BY_VISITOR_CLASS,
)

# OVERFLOW is the namespace and name of the series that links beyond the cap are counted in.
# Kubernetes names cannot contain "_", so it can never be mistaken for a real ShortLink.
DEFAULT_MAX_LINK_SERIES: Final = 10_000

#: Upper bounds of the request latency buckets, in seconds. A redirect takes tens of microseconds
#: in the app; the upper buckets catch a stalled event loop.
LATENCY_BUCKETS: Final = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


@dataclass(slots=True)
class LinkCounter:
    """The number of redirects served for one link (namespace, name, code)."""

    value: int = 0
    #: True for the counter that links over the series limit share: no one link's visits.
    shared: bool = False


@dataclass(eq=False)  # registries key collectors by identity
class LinkCounters(Collector):
    """Every link's redirect counter, kept across table reloads, at most `limit` of them.

    The table follower adds and forgets counters in its own thread while a scrape reads them on
    the event loop: both hold the lock. Counting a redirect only increments a counter.
    """

    limit: int = DEFAULT_MAX_LINK_SERIES
    counters: dict[tuple[str, str, int], LinkCounter] = field(default_factory=dict)
    #: Links over the limit, one counter per redirect code.
    overflow: dict[int, LinkCounter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_link(self, namespace: str, name: str, code: int) -> LinkCounter:
        key = (namespace, name, code)
        counter = self.counters.get(key)
        if counter is None:
            with self._lock:
                if len(self.counters) >= self.limit:
                    return self.overflow.setdefault(code, LinkCounter(shared=True))
                counter = self.counters[key] = LinkCounter()
        return counter

    def retain(self, live: Iterable[LinkCounter]) -> None:
        """Forget the counters of links no longer served, so their slots go to new links.

        A link that comes back starts again from zero, which Prometheus reads as a counter reset.
        """
        keep = {id(counter) for counter in live}
        with self._lock:
            for key, counter in list(self.counters.items()):
                if id(counter) not in keep:
                    del self.counters[key]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            REDIRECTS,
            "Redirects served, by the ShortLink that was followed; links beyond the series cap "
            f'are counted with namespace and name "{OVERFLOW}".',
            labels=["namespace", "name", "code"],
        )
        with self._lock:
            counters, overflow = sorted(self.counters.items()), sorted(self.overflow.items())
        for (namespace, name, code), counter in counters:
            family.add_metric([namespace, name, str(code)], counter.value)
        for code, counter in overflow:
            family.add_metric([OVERFLOW, OVERFLOW, str(code)], counter.value)
        yield family


class LatencyHistogram:
    """A histogram whose observation is a bisect and two additions."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last slot is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        buckets, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return buckets


@dataclass(eq=False)
class Traffic(Collector):
    """Visits by visitor and referrer class, and request latency, counted in lists of ints."""

    visitors: list[int] = field(default_factory=lambda: [0] * len(VISITOR_CLASSES))
    referrers: list[int] = field(default_factory=lambda: [0] * len(REFERRER_CLASSES))
    redirect_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    other_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: Requests that ended in an exception (answered 500 when a response was still possible).
    errors: int = 0

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        yield CounterMetricFamily(
            "shortlink_request_errors",
            "Requests that failed with an error inside the redirector.",
            value=self.errors,
        )
        visits = CounterMetricFamily(
            VISITS_BY_VISITOR_CLASS,
            "Redirects served, by the kind of client that asked (from its User-Agent).",
            labels=["class"],
        )
        for name, count in zip(VISITOR_CLASSES, self.visitors, strict=True):
            visits.add_metric([name], count)
        yield visits
        referred = CounterMetricFamily(
            VISITS_BY_REFERRER_CLASS,
            "Redirects served, by where the visitor came from (from its Referer).",
            labels=["class"],
        )
        for name, count in zip(REFERRER_CLASSES, self.referrers, strict=True):
            referred.add_metric([name], count)
        yield referred
        latency = HistogramMetricFamily(
            "shortlink_request_duration_seconds",
            "Time the redirector spent answering a request, by whether it was a redirect.",
            labels=["handler"],
        )
        for handler, histogram in (
            ("redirect", self.redirect_latency),
            ("other", self.other_latency),
        ):
            latency.add_metric([handler], histogram.cumulative(), histogram.total)
        yield latency


def _version() -> str:
    try:
        return package_version("shortlink")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


class RedirectorMetrics:
    """All of the redirector's metrics, registered in one registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_link_series: int = DEFAULT_MAX_LINK_SERIES,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.links = LinkCounters(limit=max_link_series)
        self.registry.register(self.links)
        self.traffic = Traffic()
        self.registry.register(self.traffic)
        self.not_found = Counter(
            "shortlink_not_found",
            "Requests for a slug that is not in the routing table (the path is not recorded).",
            registry=self.registry,
        )
        self.not_found_limited = Counter(
            "shortlink_not_found_limited",
            "Not-found answers replaced by 429 because the client's network had used up its "
            "not-found budget (--not-found-burst, --not-found-per-second).",
            registry=self.registry,
        )
        self.table_loaded = Gauge(
            "shortlink_table_loaded",
            "1 once the routing table was complete (every shard its manifest lists, as listed) "
            "and the redirector is ready, else 0.",
            registry=self.registry,
        )
        self.table_shards_unconfirmed = Gauge(
            "shortlink_table_shards_unconfirmed",
            "Shards the routing table's manifest lists whose ConfigMap is absent, unreadable or "
            "holds another copy than listed (the last good copy is served meanwhile); a moment "
            "above 0 is a write in progress.",
            registry=self.registry,
        )
        self.table_entries = Gauge(
            "shortlink_table_entries",
            "Links in the routing table being served.",
            registry=self.registry,
        )
        self.table_bytes = Gauge(
            "shortlink_table_bytes",
            "Size of the routing-table ConfigMap data being served, in bytes.",
            registry=self.registry,
        )
        self.table_version = Gauge(
            "shortlink_table_version",
            "How many times this process has swapped in a new routing table (its local version).",
            registry=self.registry,
        )
        self.table_updated = Gauge(
            "shortlink_table_last_update_timestamp_seconds",
            "When the routing table being served last changed (Unix time).",
            registry=self.registry,
        )
        self.table_load_failures = Counter(
            "shortlink_table_load_failures",
            "Routing-table shards, manifests or entries that could not be loaded and were not "
            "applied.",
            registry=self.registry,
        )
        self.visit_log_dropped = Counter(
            "shortlink_visit_log_dropped",
            "Visit-log records dropped because the writer could not keep up.",
            registry=self.registry,
        )
        Info("shortlink_build", "The redirector's version.", registry=self.registry).info(
            {
                "component": "redirector",
                "version": _version(),
                "python": platform.python_version(),
            }
        )
