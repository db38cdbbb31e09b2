"""The target prober against fakes: one probe per distinct target, HEAD then GET, the
TargetReachable condition and when it is written, the metrics, the Lease, and the request rate
at 100,000 links.

Time is a fake clock that only `sleep` moves, so rates are checked by counting requests against
that clock, exactly and without waiting; `test_http_probe.py` and the cluster tier
(`tests/cluster/test_target_probes.py`) probe a real server.
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from shortlink_core.link import Link, TargetRef
from shortlink_operator.http_probe import Answer, Failure
from shortlink_operator.link_index import IndexedLink
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.prober import SEEN_GRACE_SECONDS, Prober
from shortlink_operator.probing import probe_target
from tests.unit.test_operator_metrics import sample

NOW = 1_780_000_000.0


class Clock:
    """Monotonic time moved only by `sleep`; sleepers that start together wake together."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return NOW + self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


class FakeFetch:
    """Answers by path; records (time, method, url) of every request."""

    def __init__(self, clock: Clock, answers: Mapping[str, Answer] | None = None) -> None:
        self.clock = clock
        self.answers = dict(answers or {})
        self.requests: list[tuple[float, str, str]] = []

    async def __call__(self, method: str, url: str) -> Answer:
        self.requests.append((self.clock.now, method, url))
        path = "/" + url.split("/", 3)[3]
        if path == "/no-head":
            return Answer(405, None, "405 Method Not Allowed") if method == "HEAD" else OK
        return self.answers.get(path, OK)


class FakeKube:
    """Records conditions applied; given the links, shows each write in them as the watch would."""

    def __init__(self, links: list[IndexedLink] | None = None) -> None:
        self.metrics = OperatorMetrics()
        self.applied: list[tuple[str, str, Mapping[str, Any]]] = []
        self.links = links
        self.at = {each.name: i for i, each in enumerate(links or ())}

    async def apply_condition(
        self, namespace: str, name: str, condition: Mapping[str, Any]
    ) -> None:
        self.applied.append((namespace, name, dict(condition)))
        if self.links is not None:
            old = self.links[self.at[name]]
            kept = [c for c in old.status.get("conditions", ()) if c["type"] != condition["type"]]
            status = {**old.status, "conditions": [*kept, dict(condition)]}
            self.links[self.at[name]] = replace(old, status=status)


class FakeLease:
    def __init__(self, holding: bool) -> None:
        self.holding = holding
        self.renew_interval = 5.0


OK = Answer(200, None, "200 OK")
MISSING = Answer(404, None, "404 Not Found")
TIMEOUT = Answer(None, Failure.TIMEOUT, "no answer within 5 s")
PRIVATE = Answer(None, Failure.ADDRESS_NOT_ALLOWED, "resolves to 10.0.0.5, a private address")
READY = {"type": "Ready", "status": "True", "reason": "Published", "message": "served"}


def link(
    name: str, url: str, *, status: Mapping[str, Any] | None = None, generation: int = 1
) -> IndexedLink:
    return IndexedLink(
        namespace="team",
        name=name,
        uid=name,
        created="2026-01-01T00:00:00Z",
        generation=generation,
        link=Link(url=url, slug=name),
        error=None,
        status=dict(status or {}),
    )


def prober(
    kube: FakeKube,
    fetch: FakeFetch,
    links: Sequence[IndexedLink] | list[IndexedLink],
    *,
    rate: float = 100.0,
    interval: float = 600.0,
    concurrency: int = 4,
    writes: float = 1000.0,
    lease: FakeLease | None = None,
) -> Prober:
    return Prober(
        kube=kube,
        fetch=fetch,
        links=lambda: links,
        interval=interval,
        rate=rate,
        concurrency=concurrency,
        writes_per_second=writes,
        leadership=lease,  # type: ignore[arg-type]
        clock=fetch.clock.wall,
        monotonic=fetch.clock.monotonic,
        sleep=fetch.clock.sleep,
    )


def conditions(kube: FakeKube) -> dict[str, Mapping[str, Any]]:
    return {name: condition for _, name, condition in kube.applied}


def seen(links: list[IndexedLink], kube: FakeKube) -> None:
    """What the watch would bring back: each link's status with the conditions written."""
    written = conditions(kube)
    for i, old in enumerate(links):
        if old.name in written:
            others = [c for c in old.status.get("conditions", []) if c["type"] != "TargetReachable"]
            status = {**old.status, "conditions": [*others, written[old.name]]}
            links[i] = link(old.name, old.link.url if old.link else "", status=status)


async def test_links_sharing_a_target_share_one_probe() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock)
    links = [link(f"l{i}", "https://example.com/ok") for i in range(5)]
    task = prober(kube, fetch, links)
    await task.step()
    await task.sync()
    assert [(m, u) for _, m, u in fetch.requests] == [("HEAD", "https://example.com/ok")]
    assert len(kube.applied) == 5


async def test_the_condition_says_the_status_or_the_failure() -> None:
    clock = Clock()
    answers = {"/missing": MISSING, "/slow": TIMEOUT, "/inside": PRIVATE}
    kube, fetch = FakeKube(), FakeFetch(clock, answers)
    links = [link(n, f"https://example.com/{n}") for n in ("ok", "missing", "slow", "inside")]
    task = prober(kube, fetch, links)
    await task.step()
    await task.sync()
    got = {n: (c["status"], c["reason"]) for n, c in conditions(kube).items()}
    assert got == {
        "ok": ("True", "HTTP200"),
        "missing": ("False", "HTTP404"),
        "slow": ("False", "Timeout"),
        "inside": ("Unknown", "AddressNotAllowed"),
    }
    missing = conditions(kube)["missing"]
    assert missing["type"] == "TargetReachable"
    assert missing["message"] == "HEAD https://example.com/missing answered 404 Not Found"
    assert missing["lastTransitionTime"] == "2026-05-28T20:26:40Z"
    assert missing["observedGeneration"] == 1


@pytest.mark.parametrize(
    ("status", "state"),
    [(200, "True"), (204, "True"), (301, "True"), (302, "True"), (308, "True"), (401, "True"),
     (403, "True"), (429, "True"), (400, "True"), (404, "False"), (410, "False"),
     (500, "False"), (502, "False"), (503, "False")],
)  # fmt: skip
async def test_which_answers_mean_unreachable(status: int, state: str) -> None:
    clock = Clock()
    kube = FakeKube()
    fetch = FakeFetch(clock, {"/x": Answer(status, None, f"{status} Whatever")})
    task = prober(kube, fetch, [link("x", "https://example.com/x")])
    await task.step()
    await task.sync()
    assert conditions(kube)["x"]["status"] == state


async def test_head_refused_is_asked_again_with_get() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock)
    task = prober(kube, fetch, [link("x", "https://example.com/no-head")])
    await task.step()
    await task.sync()
    assert [m for _, m, _ in fetch.requests] == ["HEAD", "GET"]
    assert conditions(kube)["x"]["message"].startswith("GET https://example.com/no-head")
    assert sample(kube.metrics, "shortlink_operator_target_probe_requests_total", method="GET") == 1


async def test_the_probe_is_of_the_bare_slugs_destination() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock)
    task = prober(kube, fetch, [link("gh", "https://github.com/acme/{path}?q={query}")])
    await task.step()
    assert fetch.requests[0][2] == "https://github.com/acme/?q="


async def test_only_the_target_condition_is_written_never_ready() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock, {"/gone": MISSING})
    task = prober(kube, fetch, [link("x", "https://e.com/gone", status={"conditions": [READY]})])
    await task.step()
    await task.sync()
    assert [c["type"] for _, _, c in kube.applied] == ["TargetReachable"]


async def test_an_unchanged_answer_writes_nothing_again() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock, {"/gone": MISSING})
    links = [link("ok", "https://e.com/ok"), link("gone", "https://e.com/gone")]
    task = prober(kube, fetch, links, interval=60)
    await task.step()
    await task.sync()
    seen(links, kube)
    for _ in range(5):  # five more rounds of probes, each answered the same
        await clock.sleep(61)
        assert await task.step() == 2
        await task.sync()
    assert len(fetch.requests) == 12
    assert len(kube.applied) == 2


async def test_not_yet_seen_writes_wait_and_lost_ones_are_made_again() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock)
    links = [link("x", "https://e.com/ok")]
    task = prober(kube, fetch, links)
    await task.step()
    await task.sync()
    await task.sync()  # not seen back yet, within the grace: not written again
    assert len(kube.applied) == 1
    await clock.sleep(SEEN_GRACE_SECONDS + 1)  # never seen (a racing write lost it): again
    await task.sync()
    assert len(kube.applied) == 2


async def test_a_flip_moves_the_transition_time_and_a_new_reason_does_not() -> None:
    clock = Clock()
    answers = {"/x": MISSING}
    kube, fetch = FakeKube(), FakeFetch(clock, answers)
    links = [link("x", "https://e.com/x")]
    task = prober(kube, fetch, links, interval=60)
    await task.step()
    await task.sync()
    seen(links, kube)
    first = conditions(kube)["x"]["lastTransitionTime"]
    fetch.answers["/x"] = Answer(503, None, "503 Service Unavailable")
    await clock.sleep(3600)
    await task.step()
    await task.sync()
    seen(links, kube)
    assert conditions(kube)["x"]["reason"] == "HTTP503"
    assert conditions(kube)["x"]["lastTransitionTime"] == first
    fetch.answers["/x"] = OK
    await clock.sleep(3600)
    await task.step()
    await task.sync()
    assert conditions(kube)["x"]["status"] == "True"
    assert conditions(kube)["x"]["lastTransitionTime"] > first


async def test_metrics_count_links_by_state_and_the_oldest_unreachable() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock, {"/gone": MISSING, "/inside": PRIVATE})
    links = [
        link("a", "https://e.com/ok"),
        link("b", "https://e.com/gone"),
        link("c", "https://e.com/gone"),
        link("d", "https://e.com/inside"),
    ]
    task = prober(kube, fetch, links)
    metrics = kube.metrics
    for state in ("reachable", "unreachable", "unknown"):
        assert sample(metrics, "shortlink_operator_targets", state=state) == 0
    await task.sync()  # nothing probed yet: every link is unknown
    assert sample(metrics, "shortlink_operator_targets", state="unknown") == 4
    await task.step()
    await task.sync()
    assert sample(metrics, "shortlink_operator_targets", state="reachable") == 1
    assert sample(metrics, "shortlink_operator_targets", state="unreachable") == 2
    assert sample(metrics, "shortlink_operator_targets", state="unknown") == 1
    since = "shortlink_operator_target_unreachable_since_timestamp_seconds"
    assert sample(metrics, since) == int(NOW + clock.now)


async def test_a_standby_neither_probes_nor_writes_nor_reports() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock, {"/gone": MISSING})
    lease = FakeLease(True)
    task = prober(kube, fetch, [link("x", "https://e.com/gone")], lease=lease)
    await task.step()
    await task.sync()
    assert sample(kube.metrics, "shortlink_operator_targets", state="unreachable") == 1
    lease.holding = False  # the Lease went to another process
    kube.applied.clear()
    fetch.requests.clear()
    running = asyncio.ensure_future(task.run())
    for _ in range(20):
        await asyncio.sleep(0)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert fetch.requests == []
    assert kube.applied == []
    assert sample(kube.metrics, "shortlink_operator_targets", state="unreachable") == 0
    since = "shortlink_operator_target_unreachable_since_timestamp_seconds"
    assert sample(kube.metrics, since) == 0


def most_in_any_window(times: Sequence[float], window: float) -> int:
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] < at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_100k_links_to_2000_hosts_never_exceed_the_request_rate() -> None:
    """100,000 links on 2,000 hosts, 10,000 distinct targets (2,000 answering HEAD with 405, so
    their GET counts too), probed for two intervals at 20 requests a second: 12,000 requests
    take 600 s, so with an interval of 600 s the budget is the only brake."""
    clock = Clock()
    pages = ["no-head", "a", "b", "c", "d"]
    links = [
        link(f"l{i}", f"https://h{i % 2000}.example/{pages[(i // 2000) % 5]}")
        for i in range(100_000)
    ]
    kube, fetch = FakeKube(links), FakeFetch(clock)
    rate, interval = 20.0, 600.0
    task = prober(kube, fetch, links, rate=rate, interval=interval, concurrency=8, writes=1e6)
    steps = 0
    while clock.now < 2 * interval:  # as `run` does, syncing less often (it costs CPU, not time)
        if await task.step():
            steps += 1
            if steps % 8 == 0:
                await task.sync()
        else:
            await clock.sleep(task.idle_for or 1.0)
    await task.sync()
    times = sorted(at for at, _, _ in fetch.requests)
    assert len({url for _, _, url in fetch.requests}) == 10_000  # every distinct target probed
    assert len(kube.applied) == 100_000  # every link has its condition, written once
    # A token bucket: at most `rate` a second on average, bursts of at most one second's worth.
    for window in (1.0, 10.0, 60.0, 600.0):
        assert most_in_any_window(times, window) <= rate * window + rate, window
    assert len(times) <= rate * (times[-1] - times[0]) + rate
    # And the budget is used: the two intervals are busy probing, not idle.
    assert len(times) >= rate * (2 * interval - 60)
    assert sum(1 for _, method, _ in fetch.requests if method == "GET") >= 2000


async def test_a_link_with_an_invalid_spec_is_neither_probed_nor_counted() -> None:
    clock = Clock()
    kube, fetch = FakeKube(), FakeFetch(clock)
    invalid = replace(link("bad", "https://e.com/ok"), link=None, error="spec.url: bad")
    task = prober(kube, fetch, [invalid])
    assert await task.step() == 0
    await task.sync()
    assert fetch.requests == []
    assert kube.applied == []
    assert sample(kube.metrics, "shortlink_operator_targets", state="unknown") == 0


async def test_a_probe_that_fails_unexpectedly_leaves_the_others_alone() -> None:
    class FragileFetch(FakeFetch):
        async def __call__(self, method: str, url: str) -> Answer:
            if "fragile" in url:
                raise RuntimeError("a surprise")
            return await super().__call__(method, url)

    kube, fetch = FakeKube(), FragileFetch(Clock())
    task = prober(kube, fetch, [link("a", "https://e.com/fragile"), link("b", "https://e.com/ok")])
    await task.step()
    await task.sync()
    assert set(conditions(kube)) == {"b"}


def test_a_target_ref_link_is_probed_at_its_resolved_url_and_not_before() -> None:
    ref = TargetRef(kind="Service", name="web")
    unresolved = replace(link("svc", ""), link=Link(url="", slug="svc", target=ref))
    resolved = replace(unresolved, status={"resolvedURL": "https://web.example.com/"})
    assert probe_target(unresolved) is None
    assert probe_target(resolved) == "https://web.example.com/"
