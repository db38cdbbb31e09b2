"""The not-found token bucket per client network: burst, refill, Retry-After, bounded memory."""

import tracemalloc

import pytest

from shortlink_redirector.ratelimit import NotFoundLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_network_gets_its_burst_then_waits_for_its_next_token() -> None:
    clock = Clock()
    limiter = NotFoundLimiter(burst=3, per_second=0.5, clock=clock)
    assert [limiter.take("198.51.100.0") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("198.51.100.0") == 2  # one token takes 2 s at 0.5/s
    clock.now += 1.5
    assert limiter.take("198.51.100.0") == 1  # a quarter of a token left to wait for: at least 1 s
    clock.now += 0.5
    assert limiter.take("198.51.100.0") == 0
    assert limiter.take("198.51.100.0") == 2


def test_tokens_refill_up_to_the_burst_only() -> None:
    clock = Clock()
    limiter = NotFoundLimiter(burst=2, per_second=10, clock=clock)
    limiter.take("n")
    clock.now += 3600
    assert [limiter.take("n") for _ in range(3)] == [0, 0, 1]


def test_networks_have_buckets_of_their_own() -> None:
    limiter = NotFoundLimiter(burst=1, per_second=1, clock=Clock())
    assert limiter.take("198.51.100.0") == 0
    assert limiter.take("198.51.100.0") == 1
    assert limiter.take("203.0.113.0") == 0
    assert limiter.take("2001:db8::") == 0


def test_a_burst_of_zero_switches_the_limit_off() -> None:
    limiter = NotFoundLimiter(burst=0, clock=Clock())
    assert all(limiter.take("n") == 0 for _ in range(1000))
    assert len(limiter) == 0


def test_memory_is_bounded_and_the_least_recently_seen_network_goes_first() -> None:
    clock = Clock()
    limiter = NotFoundLimiter(burst=1, per_second=0.001, max_networks=3, clock=clock)
    for network in ("a", "b", "c"):
        limiter.take(network)
    limiter.take("a")  # "a" is now the most recent; "b" the least
    for i in range(1000):
        limiter.take(f"probe-{i}")
        assert len(limiter) <= 3
    limiter = NotFoundLimiter(burst=1, per_second=0.001, max_networks=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    limiter.take("a")  # refused, and remembered as the most recent
    limiter.take("c")  # drops "b"
    assert limiter.take("a") > 0  # still limited: kept
    assert limiter.take("b") == 0  # forgotten: a full bucket again


@pytest.mark.parametrize(
    "arguments", [{"burst": -1}, {"per_second": 0}, {"per_second": -1}, {"max_networks": 0}]
)
def test_nonsense_settings_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="burst"):
        NotFoundLimiter(**arguments)  # type: ignore[arg-type]


def test_a_full_table_of_networks_stays_within_its_documented_memory() -> None:
    limiter = NotFoundLimiter(burst=5, max_networks=10_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(30_000):  # three times the bound: the oldest are dropped
            limiter.take(f"10.{i // 256 % 256}.{i % 256}.0/{i}")
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter) == 10_000
    assert used / 10_000 < 400  # the README says about 300 bytes a network
