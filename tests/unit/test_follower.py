"""The redirector's table follower retries with backoff, starts over once listing works, and
builds tables off the event loop.

`FlakySource` stands in for the API server (the component tier feeds real shard data through the
same functions; the cluster tier runs the real watch). Time is the event loop's, fast-forwarded
by `looptime`, so the waits between tries are checked exactly.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from itertools import accumulate

import pytest

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.link import Link
from shortlink_core.table import (
    DecodedShard,
    Route,
    decode_shard,
    encode_manifest,
    encode_shard,
    shard_name,
)
from shortlink_redirector import follower
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


class StaticSource(ShardSource):
    """Lists `objects` once; the watch after it hangs on."""

    def __init__(self, objects: dict[str, Mapping[str, str]]) -> None:
        super().__init__(namespace="shortlink-system", api=object())
        self.objects = objects

    async def list(self) -> ShardSnapshot:
        return ShardSnapshot("7", self.objects)

    async def watch(self, resource_version: str) -> AsyncIterator[ShardEvent]:
        await asyncio.Event().wait()
        yield ShardEvent("BOOKMARK", "", resource_version, {})  # never reached


@pytest.mark.looptime(False)
async def test_the_event_loop_answers_requests_while_a_table_is_being_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Decoding and building a big table take a while: requests must not wait for it.

    The shard's decoding here waits until the event loop has run something; on the loop's own
    thread it would wait in vain (until the timeout), since nothing else could run meanwhile.
    """
    loop = asyncio.get_running_loop()
    building, loop_ran = asyncio.Event(), threading.Event()
    waited_in_vain: list[bool] = []

    def decode_waiting_for_the_loop(
        data: Mapping[str, str], known: Mapping[str, Route] | None = None
    ) -> DecodedShard:
        loop.call_soon_threadsafe(building.set)
        waited_in_vain.append(not loop_ran.wait(timeout=10))
        return decode_shard(data, known)

    monkeypatch.setattr(follower, "decode_shard", decode_waiting_for_the_loop)
    route = Route(
        slug="docs",
        link=Link(url="https://example.com/", slug="docs"),
        namespace="team",
        name="docs",
    )
    shards = {shard_name(0): encode_shard([route])}
    state = RedirectorState()
    source = StaticSource({**shards, MANIFEST_NAME: encode_manifest(shards)})
    task = asyncio.create_task(TableFollower(source=source, state=state).run())
    try:
        await building.wait()
        loop_ran.set()  # the event loop runs while the table is being built
        while not state.ready:  # noqa: ASYNC110 (a flag the follower's thread sets)
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert waited_in_vain == [False]
    assert state.table.fast["/docs"].route.link.url == "https://example.com/"
