"""A rate budget shared by the operator's background tasks: status.visits writes
(`visit_reporter`) and target probes and their status writes (`prober`).

Time comes in as `monotonic` and `sleep`, so tests pace a budget with a fake clock, exactly and
without waiting.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

Sleep = Callable[[float], Awaitable[None]]
MIN_WAIT_SECONDS: Final = 0.001


class RateBudget:
    """A token bucket: on average at most `rate` calls a second, in bursts of at most one second's
    worth (and at least one call)."""

    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()

    async def take(self) -> None:
        """Wait until a call may start, and count it."""
        while True:
            now = self._monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            # At least a millisecond: a wait of a rounding error would add nothing to a large
            # clock reading, and the loop would spin without time passing.
            await self._sleep(max(MIN_WAIT_SECONDS, (1 - self._tokens) / self._rate))
