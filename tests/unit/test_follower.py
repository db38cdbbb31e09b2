"""The redirector's table follower retries with backoff, and starts over once listing works.

`FlakySource` stands in for the API server (the component tier feeds real shard data through the
same functions; the cluster tier runs the real watch). Time is the event loop's, fast-forwarded
by `looptime`, so the waits between tries are checked exactly.
"""

import asyncio
from collections.abc import AsyncIterator
from itertools import accumulate

import pytest

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.table import encode_manifest
from shortlink_redirector.follower import BACKOFF_SECONDS, TableFollower
from shortlink_redirector.kube import ShardEvent, ShardSnapshot, ShardSource
from shortlink_redirector.state import RedirectorState

pytestmark = pytest.mark.looptime


class FlakySource(ShardSource):
    """Fails the first `failures` LISTs; the first watch breaks at once, later ones hang on."""

    def __init__(self, failures: int) -> None:
        super().__init__(namespace="shortlink-system", api=object())
        self.failures = failures
        self.lists: list[float] = []
        self.watches = 0

    async def list(self) -> ShardSnapshot:
        self.lists.append(asyncio.get_running_loop().time())
        if len(self.lists) <= self.failures:
            raise ConnectionError("the API server is away")
        return ShardSnapshot("7", {MANIFEST_NAME: encode_manifest({})})

    async def watch(self, resource_version: str) -> AsyncIterator[ShardEvent]:
        self.watches += 1
        if self.watches == 1:
            raise ConnectionError("connection reset")
        await asyncio.Event().wait()
        yield ShardEvent("BOOKMARK", "", resource_version, {})  # never reached


async def test_failures_wait_longer_each_time_and_a_listing_that_works_starts_over() -> None:
    start = asyncio.get_running_loop().time()
    source = FlakySource(failures=2)
    state = RedirectorState()
    task = asyncio.create_task(TableFollower(source=source, state=state).run())
    try:
        await asyncio.sleep(30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    first, second = BACKOFF_SECONDS[:2]
    # Two failed LISTs wait `first` then `second`; the third works, so the broken watch after it
    # waits `first` again, not the third delay; the LIST after it works and the watch holds.
    waits = [first, second, first]
    assert [t - start for t in source.lists] == pytest.approx([0, *accumulate(waits)])
    assert state.ready
