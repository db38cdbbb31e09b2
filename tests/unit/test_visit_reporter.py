"""The visits task against fakes: the write budget, Prometheus away, the Lease, merge patches.

Time is a fake clock that only `sleep` moves, so the budget's pacing is checked exactly without
waiting; the prometheus tier runs the task in the real operator against a real Prometheus.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from shortlink_operator.budget import RateBudget
from shortlink_operator.kube import Kube
from shortlink_operator.link_index import IndexedLink, index_link
from shortlink_operator.prometheus import PrometheusUnavailable
from shortlink_operator.visit_reporter import VisitReporter
from shortlink_operator.visits import Visits
from tests.unit.test_operator_metrics import sample

NOW = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def stopping_after(self, sleeps: int) -> Callable[[float], Awaitable[None]]:
        """A sleep that records its waits and ends the reporter's loop at the `sleeps`th."""

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            if len(self.slept) == sleeps:
                raise RuntimeError("stop")

        return sleep


class FakeKube(Kube):
    def __init__(self) -> None:
        super().__init__(namespace="shortlink-system")
        self.patches: list[tuple[str, str, Mapping[str, Any]]] = []

    async def patch_visits(self, namespace: str, name: str, visits: Mapping[str, Any]) -> None:
        self.patches.append((namespace, name, visits))


class FakePrometheus:
    """Answers every window with `counts`, or raises while `down`."""

    def __init__(self, counts: Mapping[str, float]) -> None:
        self.counts = dict(counts)
        self.down = False
        self.asked = 0

    async def query(self, expr: str, *, at: float) -> list[Mapping[str, Any]]:
        self.asked += 1
        if self.down:
            raise PrometheusUnavailable("connection refused")
        return [
            {"metric": {"namespace": "team", "name": name}, "value": [at, str(count)]}
            for name, count in self.counts.items()
        ]

    async def close(self) -> None:
        pass


class FakeLeadership:
    holding = True
    renew_interval = 5.0


def links(*names: str, status: dict[str, Any] | None = None) -> list[IndexedLink]:
    return [
        index_link(
            {
                "metadata": {"namespace": "team", "name": name, "uid": name},
                "spec": {"url": "https://example.com/"},
                "status": status or {},
            }
        )
        for name in names
    ]


def reporter(
    kube: FakeKube,
    prometheus: FakePrometheus,
    known: Sequence[IndexedLink],
    clock: Clock,
    *,
    rate: float = 1000.0,
    interval: float = 60.0,
    leadership: FakeLeadership | None = None,
) -> VisitReporter:
    return VisitReporter(
        kube=kube,
        metrics=kube.metrics,  # the same registry, as the operator wires it
        prometheus=prometheus,  # type: ignore[arg-type]
        links=lambda: known,
        interval=interval,
        writes_per_second=rate,
        leadership=leadership,  # type: ignore[arg-type]
        clock=lambda: NOW,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )


async def test_the_budget_paces_writes_at_its_rate_after_one_seconds_burst() -> None:
    clock = Clock()
    budget = RateBudget(4.0, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(4 + 20):
        await budget.take()
    assert clock.now == pytest.approx(20 / 4.0)


async def test_a_budget_below_one_write_a_second_still_writes() -> None:
    clock = Clock()
    budget = RateBudget(0.5, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(3):
        await budget.take()
    assert clock.now == pytest.approx(4.0)


async def test_changed_links_get_a_merge_patch_of_visits_alone() -> None:
    kube, clock = FakeKube(), Clock()
    task = reporter(kube, FakePrometheus({"docs": 3.0}), links("docs", "quiet"), clock)
    await task.write(await task.poll(), until=60.0)
    assert kube.patches == [("team", "docs", Visits(3, 3, 3, "2026-05-28T20:26:40Z").to_status())]


async def test_a_write_not_yet_seen_back_is_not_written_again() -> None:
    kube, clock = FakeKube(), Clock()
    task = reporter(kube, FakePrometheus({"docs": 3.0}), links("docs"), clock)
    await task.write(await task.poll(), until=60.0)
    assert await task.poll() == []
    assert len(kube.patches) == 1


async def test_what_the_budget_cannot_write_before_the_next_poll_waits_for_it() -> None:
    kube, clock = FakeKube(), Clock()
    names = [f"link-{i:02}" for i in range(20)]
    prometheus = FakePrometheus(dict.fromkeys(names, 1.0))
    task = reporter(kube, prometheus, links(*names), clock, rate=2.0)
    await task.write(await task.poll(), until=4.0)
    first = {name for _, name, _ in kube.patches}
    assert 0 < len(first) < len(names)
    assert sample(kube.metrics, "shortlink_operator_visits_pending") == len(names) - len(first)
    kube.patches.clear()
    later = await task.poll()
    assert {change.key[1] for change in later[: len(names) - len(first)]} == set(names) - first


async def test_prometheus_away_leaves_statuses_alone_counts_and_backs_off() -> None:
    kube, clock = FakeKube(), Clock()
    prometheus = FakePrometheus({"docs": 3.0})
    prometheus.down = True
    task = reporter(kube, prometheus, links("docs"), clock)

    task._sleep = clock.stopping_after(3)
    with pytest.raises(RuntimeError, match="stop"):
        await task.run()
    assert kube.patches == []
    assert clock.slept == [5.0, 10.0, 20.0]  # backoff
    assert sample(kube.metrics, "shortlink_operator_visits_polls_total", result="error") == 3


async def test_the_backoff_never_waits_longer_than_the_interval() -> None:
    clock = Clock()
    prometheus = FakePrometheus({})
    prometheus.down = True
    task = reporter(FakeKube(), prometheus, links(), clock, interval=8.0)

    task._sleep = clock.stopping_after(3)
    with pytest.raises(RuntimeError, match="stop"):
        await task.run()
    assert clock.slept == [5.0, 8.0, 8.0]


async def test_a_standby_neither_asks_prometheus_nor_writes() -> None:
    kube, clock = FakeKube(), Clock()
    prometheus = FakePrometheus({"docs": 3.0})
    standby = FakeLeadership()
    standby.holding = False
    task = reporter(kube, prometheus, links("docs"), clock, leadership=standby)

    task._sleep = clock.stopping_after(2)
    with pytest.raises(RuntimeError, match="stop"):
        await task.run()
    assert (prometheus.asked, kube.patches) == (0, [])


async def test_losing_the_lease_stops_writing() -> None:
    kube, clock = FakeKube(), Clock()
    leadership = FakeLeadership()
    task = reporter(
        kube, FakePrometheus({"a": 1.0, "b": 1.0}), links("a", "b"), clock, leadership=leadership
    )
    pending = await task.poll()
    leadership.holding = False
    await task.write(pending, until=60.0)
    assert kube.patches == []
