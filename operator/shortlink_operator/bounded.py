"""A few API calls in flight at a time: how the pass executor writes statuses and posts Events.

Thousands of status writes one after another take minutes; all at once would swamp the API server
(and draw 429s). A few workers pulling from one lazy iterator keep both busy without creating a
task per write.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any


async def bounded(
    calls: Iterable[Coroutine[Any, Any, None]],
    *,
    limit: int,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Await `calls` with at most `limit` in flight; start no more once `stop()` says so or a call
    failed, and raise the first error."""
    pending = iter(calls)
    errors: list[Exception] = []

    async def worker() -> None:
        for call in pending:
            if errors or stop():
                call.close()  # never started: close it so Python does not warn it was not awaited
                continue
            try:
                await call
            except Exception as error:
                errors.append(error)

    await asyncio.gather(*(worker() for _ in range(limit)))
    if errors:
        raise errors[0]
