"""Seeding the indexes at start-up: one LIST of each kind, retried with backoff until it works.

Time is the event loop's, fast-forwarded by `looptime`.
"""

import asyncio
from itertools import accumulate

import pytest

from shortlink_operator.kube import Listing
from shortlink_operator.link_index import Indexes
from shortlink_operator.seeding import SEED_BACKOFF_SECONDS, seed
from tests.unit.test_planning import obj
from tests.unit.test_publisher import ListingKube

pytestmark = pytest.mark.looptime


class FlakyListingKube(ListingKube):
    """Fails the first `failures` LISTs of ShortLinks, and records when each came."""

    def __init__(self, failures: int) -> None:
        super().__init__([obj("a", "https://e.com/a")])
        self.failures = failures
        self.calls: list[float] = []

    async def list_shortlinks(self) -> Listing:
        self.calls.append(asyncio.get_running_loop().time())
        if len(self.calls) <= self.failures:
            raise ConnectionError("the API server is away")
        return await super().list_shortlinks()


async def test_a_failed_listing_is_retried_with_growing_delays_until_the_indexes_are_full() -> None:
    start = asyncio.get_running_loop().time()
    kube = FlakyListingKube(failures=3)
    indexes = Indexes()
    await seed(kube=kube, indexes=indexes)
    waits = SEED_BACKOFF_SECONDS[:3]
    assert [t - start for t in kube.calls] == pytest.approx([0, *accumulate(waits)])
    assert indexes.complete
    assert [link.name for link in indexes.links.snapshot()] == ["a"]
