"""The operator's metrics: links by reason, shard fill, and API operations, on a fresh registry."""

import pytest
from prometheus_client import CollectorRegistry

from shortlink_core.link import Link
from shortlink_core.table import Route, encode_shard
from shortlink_operator.conditions import Reason
from shortlink_operator.metrics import OperatorMetrics, observed


def sample(metrics: OperatorMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def ready(reason: str) -> dict[str, object]:
    return {"conditions": [{"type": "Ready", "status": "False", "reason": reason}]}


def test_links_are_counted_by_ready_reason_and_known_reasons_start_at_zero() -> None:
    metrics = OperatorMetrics(CollectorRegistry())
    metrics.observe_links([ready("Published"), ready("Published"), ready("SlugConflict"), {}])
    assert sample(metrics, "shortlink_operator_links", reason="Published") == 2
    assert sample(metrics, "shortlink_operator_links", reason="SlugConflict") == 1
    for reason in set(Reason) - {Reason.PUBLISHED, Reason.SLUG_CONFLICT}:
        assert sample(metrics, "shortlink_operator_links", reason=reason) == 0, reason
    assert sample(metrics, "shortlink_operator_links", reason="Unknown") == 1
    metrics.observe_links([ready("Published")])
    assert sample(metrics, "shortlink_operator_links", reason="SlugConflict") == 0


def test_shards_report_entries_bytes_and_disappear_when_gone() -> None:
    metrics = OperatorMetrics(CollectorRegistry())
    data = encode_shard(
        [
            Route(f"s{i}", Link(url="https://example.com/", slug=f"s{i}"), "ns", f"s{i}")
            for i in range(3)
        ]
    )
    metrics.observe_shards({"shortlink-routes-001": data, "shortlink-routes-002": data})
    assert sample(metrics, "shortlink_operator_shard_entries", shard="shortlink-routes-001") == 3
    size = sample(metrics, "shortlink_operator_shard_bytes", shard="shortlink-routes-002")
    assert size == sum(len(k) + len(v) for k, v in data.items())
    metrics.observe_shards({"shortlink-routes-002": data})
    assert sample(metrics, "shortlink_operator_shard_entries", shard="shortlink-routes-001") is None


class _Api:
    def __init__(self) -> None:
        self.metrics = OperatorMetrics(CollectorRegistry())

    @observed("update_shard")
    async def update_shard(self, fail: bool) -> str:
        if fail:
            raise RuntimeError("409")
        return "ok"


async def test_api_writes_are_timed_and_failures_counted_by_operation() -> None:
    api = _Api()
    assert await api.update_shard(False) == "ok"
    with pytest.raises(RuntimeError):
        await api.update_shard(True)
    assert (
        sample(
            api.metrics, "shortlink_operator_write_duration_seconds_count", operation="update_shard"
        )
        == 2
    )
    assert sample(api.metrics, "shortlink_operator_api_errors_total", operation="update_shard") == 1
    assert sample(api.metrics, "shortlink_operator_api_errors_total", operation="create_shard") == 0


def test_every_ready_reason_exists_at_zero_before_any_link_has_it() -> None:
    metrics = OperatorMetrics(CollectorRegistry())
    exported = {
        s.labels["reason"]: s.value
        for family in metrics.registry.collect()
        if family.name == "shortlink_operator_links"
        for s in family.samples
    }
    assert exported == dict.fromkeys(
        [
            "Published",
            "InvalidSpec",
            "SlugConflict",
            "Suspended",
            "Scheduled",
            "Expired",
            "PolicyViolation",
            "CapacityExceeded",
            "TargetNotFound",
            "TargetUnresolvable",
        ],
        0,
    )


def test_the_shard_capacity_is_the_configured_budget() -> None:
    metrics = OperatorMetrics(CollectorRegistry(), shard_capacity_bytes=100_000)
    assert sample(metrics, "shortlink_operator_shard_capacity_bytes") == 100_000
    assert sample(OperatorMetrics(), "shortlink_operator_shard_capacity_bytes") == 256 * 1024
