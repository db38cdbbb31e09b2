"""The one backoff rule every retry loop follows (operator passes, seeding, watches; redirector)."""

import pytest

from shortlink_core.backoff import Backoff


def test_each_failure_in_a_row_waits_longer_up_to_the_last_delay() -> None:
    backoff = Backoff((0.5, 1, 2))
    assert [backoff.failed() for _ in range(5)] == [0.5, 1, 2, 2, 2]
    assert backoff.failures == 5


def test_a_success_starts_again_from_the_shortest_delay() -> None:
    backoff = Backoff((0.5, 1, 2))
    backoff.failed()
    backoff.failed()
    backoff.succeeded()
    assert backoff.failed() == 0.5


@pytest.mark.parametrize("delays", [(), (1, -1)])
def test_delays_are_a_non_empty_list_of_seconds(delays: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="backoff delays"):
        Backoff(delays)
