"""How long to wait before trying again after failures in a row: one rule for every retry loop.

The operator's scheduler (a failed pass, a refused shard), its seeding LIST and its table watch,
and the redirector's table follower all wait longer after each failure in a row, up to a cap, and
start again from the shortest delay once something works. `Backoff` counts; the caller sleeps, so
the delay can be logged first and the rule stays pure (tested without a clock).
"""

from collections.abc import Sequence


class Backoff:
    """The delays to wait after the 1st, 2nd, ... failure in a row; the last one repeats."""

    def __init__(self, delays: Sequence[float]) -> None:
        if not delays or any(delay < 0 for delay in delays):
            raise ValueError(f"backoff delays must be a non-empty list of seconds: {delays!r}")
        self._delays = tuple(delays)
        self.failures = 0

    def failed(self) -> float:
        """Count one more failure in a row; return how long to wait before the next try."""
        delay = self._delays[min(self.failures, len(self._delays) - 1)]
        self.failures += 1
        return delay

    def succeeded(self) -> None:
        """It worked: the next failure waits the shortest delay again."""
        self.failures = 0
