"""The operator's kopf event handlers run on the event loop.

kopf runs a plain-function handler in a worker thread. There, a relisting (kopf listing a kind
again after a watch gap) could not start the publisher's prune (no event loop in that thread),
so a link deleted during the gap stayed served until the next resync.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

import kopf

from shortlink_operator import handlers
from shortlink_operator.link_index import Indexes
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.publisher import Publisher
from tests.unit.test_publisher import CONFIG, ListingKube, eventually


def body(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team", "resourceVersion": version, "uid": name},
        "spec": {"url": f"https://example.com/{name}"},
    }


def test_every_event_handler_is_a_coroutine() -> None:
    watching = kopf.get_default_registry()._watching.get_all_handlers()
    names = {getattr(handler.fn, "__name__", "") for handler in watching}
    assert {"link_changed", "service_changed"} <= names
    for handler in watching:
        assert inspect.iscoroutinefunction(handler.fn), handler.fn


async def test_a_relisting_after_a_watch_gap_forgets_a_link_deleted_meanwhile() -> None:
    kept, deleted = body("kept", "5"), body("deleted", "6")
    memo = kopf.Memo()
    memo.indexes = Indexes()
    for _, index in memo.indexes.every():
        index.seed([], version=1)
    memo.indexes.links.seed([kept, deleted], version=10)
    kube = ListingKube([kept])  # the cluster now: "deleted" went while the watch was away
    memo.publisher = Publisher(
        kube=kube, config=CONFIG, metrics=OperatorMetrics(), indexes=memo.indexes
    )
    # As kopf calls it (its decorator's type says nothing of what the function returns).
    link_changed = cast(Callable[..., Awaitable[None]], handlers.link_changed)
    watched = kopf.Body(cast(kopf.RawBody, body("kept", "7")))
    await link_changed(memo=memo, body=watched, type="MODIFIED")
    listed = kopf.Body(cast(kopf.RawBody, body("kept", "7")))
    await link_changed(memo=memo, body=listed, type=None)  # kopf lists again

    await eventually(lambda: {link.name for link in memo.indexes.links.snapshot()} == {"kept"})
    # The prune ends by itself once it has asked for a pass.
    await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
