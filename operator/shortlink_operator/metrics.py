"""What the operator exports to Prometheus, from its own registry on its own port.

The operator's health in numbers: how many links end up with each `Ready` reason, how full each
routing-table shard is against its budget, how long planning and API writes take, which API
operations fail, how reading visits from Prometheus goes, and what probing link targets finds.
`observed` instruments `kube.Kube`'s methods; the publisher's `scheduler` counts each pass and its
`executor` reports what a pass planned and wrote (both are handed these metrics explicitly),
`visit_reporter` reports each poll, `prober` each sync. Every label value is bounded: reasons,
operations, target states and methods are fixed sets, shards number at most `--shards`.
"""

import functools
import json
import platform
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Concatenate, Final, ParamSpec, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from shortlink_core.table import ROUTES_KEY
from shortlink_operator.conditions import READY, Reason
from shortlink_operator.planning import DEFAULT_SHARD_BUDGET

#: Every reason the operator knows, so each series exists (at 0) before the first link has it.
KNOWN_REASONS: Final = tuple(reason.value for reason in Reason)
WRITES: Final = (
    "create_shard",
    "update_shard",
    "delete_shard",
    "patch_status",
    "patch_visits",
    "apply_condition",
    "post_event",
    "create_shortlink",
    "patch_shortlink",
    "delete_shortlink",
)
OPERATIONS: Final = (*WRITES, "list_shards", "list_shortlinks", "list_scope")
PASS_RESULTS: Final = ("success", "conflict", "error")
POLL_RESULTS: Final = ("success", "error")
#: What the last probe of a link's target found (`probing.STATES`).
TARGET_STATES: Final = ("reachable", "unreachable", "unknown")
SECONDS_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _version() -> str:
    try:
        return package_version("shortlink")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "unknown"


class OperatorMetrics:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        shard_capacity_bytes: int = DEFAULT_SHARD_BUDGET,
    ) -> None:
        """`shard_capacity_bytes` is the configured shard budget (`--shard-budget-bytes`)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.links = Gauge(
            "shortlink_operator_links",
            "ShortLinks by the reason of their Ready condition.",
            ["reason"],
            registry=r,
        )
        for reason in KNOWN_REASONS:
            self.links.labels(reason)
        self.shard_entries = Gauge(
            "shortlink_operator_shard_entries",
            "Links in each routing-table shard as last planned.",
            ["shard"],
            registry=r,
        )
        self.shard_bytes = Gauge(
            "shortlink_operator_shard_bytes",
            "Bytes of each routing-table shard's ConfigMap data as last planned.",
            ["shard"],
            registry=r,
        )
        self.shard_capacity = Gauge(
            "shortlink_operator_shard_capacity_bytes",
            "The most data one routing-table shard may hold, in bytes (--shard-budget-bytes); "
            "the operator never plans a shard over it.",
            registry=r,
        )
        self.shard_capacity.set(shard_capacity_bytes)
        self.plan_duration = Histogram(
            "shortlink_operator_plan_duration_seconds",
            "Time to plan the whole routing table and every status from the links.",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.write_duration = Histogram(
            "shortlink_operator_write_duration_seconds",
            "Time of each write to the Kubernetes API, by operation.",
            ["operation"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.api_errors = Counter(
            "shortlink_operator_api_errors",
            "Kubernetes API requests that failed (conflicts included), by operation.",
            ["operation"],
            registry=r,
        )
        for operation in OPERATIONS:
            self.api_errors.labels(operation)
            if operation in WRITES:
                self.write_duration.labels(operation)
        self.passes = Counter(
            "shortlink_operator_publish_passes",
            "Publishing passes, by result (a conflict is re-planned at once, an error backs off).",
            ["result"],
            registry=r,
        )
        for result in PASS_RESULTS:
            self.passes.labels(result)
        self.table_repairs = Counter(
            "shortlink_operator_table_repairs",
            "Routing-table ConfigMaps deleted, edited or added by someone else, each answered "
            "at once by a pass that repairs the table.",
            registry=r,
        )
        self.status_backlog = Gauge(
            "shortlink_operator_status_backlog",
            "ShortLink statuses (and Events) that passes handed to the status writer and that "
            "are not written yet.",
            registry=r,
        )
        self.last_publish = Gauge(
            "shortlink_operator_last_publish_timestamp_seconds",
            "When the last publishing pass succeeded (Unix time).",
            registry=r,
        )
        self.last_table_write = Gauge(
            "shortlink_operator_table_last_write_timestamp_seconds",
            "When the operator last changed a routing-table shard (Unix time); redirectors "
            "should have a newer table than this.",
            registry=r,
        )
        self.visits_polls = Counter(
            "shortlink_operator_visits_polls",
            "Polls of Prometheus for each link's visits (--prometheus-url), by result; an error "
            "leaves every status.visits as it was and is retried with backoff.",
            ["result"],
            registry=r,
        )
        for result in POLL_RESULTS:
            self.visits_polls.labels(result)
        self.visits_pending = Gauge(
            "shortlink_operator_visits_pending",
            "Links whose status.visits changed and wait for the visits write budget.",
            registry=r,
        )
        self.visits_last_poll = Gauge(
            "shortlink_operator_visits_last_poll_timestamp_seconds",
            "When visits were last read from Prometheus successfully (Unix time).",
            registry=r,
        )
        self.targets = Gauge(
            "shortlink_operator_targets",
            "ShortLinks by what the last probe of their target found (--probe-targets): "
            "reachable, unreachable (404, 410, a 5xx, or no answer), or unknown (not probed "
            "yet, or its address is one the operator may not probe). Links with an invalid "
            "spec are not counted; all 0 when probing is off.",
            ["state"],
            registry=r,
        )
        for state in TARGET_STATES:
            self.targets.labels(state)
        self.target_unreachable_since = Gauge(
            "shortlink_operator_target_unreachable_since_timestamp_seconds",
            "When the longest-unreachable link target became unreachable (Unix time, the "
            "lastTransitionTime of its TargetReachable condition); 0 when none is.",
            registry=r,
        )
        self.target_probes = Counter(
            "shortlink_operator_target_probe_requests",
            "HTTP requests made to probe link targets (HEAD, and GET after a 405 or 501), by "
            "method; their rate never exceeds --probe-rate.",
            ["method"],
            registry=r,
        )
        for method in ("HEAD", "GET"):
            self.target_probes.labels(method)
        Info("shortlink_operator_build", "The operator's version.", registry=r).info(
            {"component": "operator", "version": _version(), "python": platform.python_version()}
        )
        self._entries_cache: dict[str, tuple[str, int]] = {}

    def observe_links(self, statuses: Iterable[Mapping[str, Any]]) -> None:
        """Count links by the reason of the `Ready` condition in each status."""
        self.count_links(map(ready_reason, statuses))

    def count_links(self, reasons: Iterable[str]) -> None:
        """Count links by their `Ready` reasons (`ready_reason` of each status)."""
        counts = dict.fromkeys(KNOWN_REASONS, 0)
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
        for reason, count in counts.items():
            self.links.labels(reason).set(count)

    def observe_shards(
        self,
        shards: Mapping[str, Mapping[str, str]],
        entries: Mapping[str, int] | None = None,
    ) -> None:
        """Entries and bytes of every planned shard; shards no longer planned disappear.

        `entries`, when the planner counted them, saves decoding each changed shard."""
        self.shard_entries.clear()
        self.shard_bytes.clear()
        for name, data in shards.items():
            self.shard_bytes.labels(name).set(shard_bytes(data))
            count = entries.get(name) if entries is not None else None
            if count is None:
                count = self._entries(name, data.get(ROUTES_KEY, "{}"))
            self.shard_entries.labels(name).set(count)
        for name in set(self._entries_cache) - set(shards):
            del self._entries_cache[name]

    def _entries(self, name: str, payload: str) -> int:
        # Decoding a shard is the costly part; an unchanged shard keeps the same string.
        cached = self._entries_cache.get(name)
        if cached is None or cached[0] != payload:
            cached = self._entries_cache[name] = (payload, len(json.loads(payload)))
        return cached[1]


def shard_bytes(data: Mapping[str, str]) -> int:
    """What a ConfigMap's data counts against the API server's object size limit."""
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


def ready_reason(status: Mapping[str, Any]) -> str:
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == READY:
            return str(condition.get("reason") or "Unknown")
    return "Unknown"


class _Instrumented(Protocol):
    metrics: OperatorMetrics


S = TypeVar("S", bound=_Instrumented)
P = ParamSpec("P")
T = TypeVar("T")


def observed(
    operation: str,
) -> Callable[
    [Callable[Concatenate[S, P], Awaitable[T]]], Callable[Concatenate[S, P], Awaitable[T]]
]:
    """Count failures of an API method by `operation`, and time it when it is a write."""
    assert operation in OPERATIONS, operation

    def decorate(
        method: Callable[Concatenate[S, P], Awaitable[T]],
    ) -> Callable[Concatenate[S, P], Awaitable[T]]:
        @functools.wraps(method)
        async def call(instance: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await method(instance, *args, **kwargs)
            except Exception:
                instance.metrics.api_errors.labels(operation).inc()
                raise
            finally:
                if operation in WRITES:
                    elapsed = time.perf_counter() - started
                    instance.metrics.write_duration.labels(operation).observe(elapsed)

        return call

    return decorate
