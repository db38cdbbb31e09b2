"""What the redirector exports to Prometheus (served on its own port by `__main__`).

Per-link counts are plain integers bumped on the hot path, without a lock (one event loop, one
thread), and read by a custom collector when Prometheus scrapes. Their labels come only from the
ShortLink objects (namespace, name, code), never from the request.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


@dataclass(slots=True)
class LinkCounter:
    """The number of redirects served for one link (namespace, name, code)."""

    value: int = 0


@dataclass(eq=False)  # registries key collectors by identity
class LinkCounters(Collector):
    """Every link's redirect counter, kept across table reloads."""

    counters: dict[tuple[str, str, int], LinkCounter] = field(default_factory=dict)

    def for_link(self, namespace: str, name: str, code: int) -> LinkCounter:
        key = (namespace, name, code)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters[key] = LinkCounter()
        return counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "shortlink_redirects",
            "Redirects served, by the ShortLink that was followed.",
            labels=["namespace", "name", "code"],
        )
        for (namespace, name, code), counter in sorted(self.counters.items()):
            family.add_metric([namespace, name, str(code)], counter.value)
        yield family


class RedirectorMetrics:
    """All of the redirector's metrics, registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.links = LinkCounters()
        self.registry.register(self.links)
        self.not_found = Counter(
            "shortlink_not_found",
            "Requests for a slug that is not in the routing table.",
            registry=self.registry,
        )
        self.table_entries = Gauge(
            "shortlink_table_entries",
            "Links in the routing table being served.",
            registry=self.registry,
        )
        self.table_updated = Gauge(
            "shortlink_table_last_update_timestamp_seconds",
            "When the routing table being served last changed (Unix time).",
            registry=self.registry,
        )
        self.table_load_failures = Counter(
            "shortlink_table_load_failures",
            "Routing-table shards or entries that could not be loaded and were not applied.",
            registry=self.registry,
        )
