"""The kopf handlers of the shortlink operator: declarations only, each a few lines.

The ShortLink index is the operator's memory of every link. kopf fills it completely before any
event handler runs, so the first table the publisher writes already holds every link. The event
handler only asks the publisher for a pass; no handler writes to a ShortLink itself, and none is a
change-detecting handler, so kopf adds no finalizer and no annotations to ShortLinks.
"""

import asyncio
from typing import Any

import kopf

from shortlink_core.api import GROUP, PLURAL, VERSION
from shortlink_operator.config import OperatorConfig
from shortlink_operator.kopf_settings import configure
from shortlink_operator.kube import Kube
from shortlink_operator.links import IndexedLink, index_link
from shortlink_operator.publisher import Publisher


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: OperatorConfig = memo.config
    configure(settings)
    kube = Kube(namespace=config.namespace, metrics=memo.metrics)
    memo.publisher = Publisher(kube=kube, config=config)
    memo.publishing = asyncio.create_task(memo.publisher.run(), name="shortlink-publisher")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("publishing")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@kopf.index(GROUP, VERSION, PLURAL)
def shortlinks(body: kopf.Body, **_: Any) -> dict[tuple[str, str], IndexedLink]:
    link = index_link(body)
    return {link.key: link}


@kopf.on.event(GROUP, VERSION, PLURAL)
def changed(memo: kopf.Memo, **kwargs: Any) -> None:
    index: kopf.Index[tuple[str, str], IndexedLink] = kwargs[
        "shortlinks"
    ]  # kopf passes indices by name
    memo.publisher.request(lambda: [link for store in index.values() for link in store])


@kopf.on.probe(id="lastPublished")
def last_published(memo: kopf.Memo, **_: Any) -> float | None:
    publisher: Publisher = memo.publisher
    return publisher.last_success
