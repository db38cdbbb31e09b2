"""The kopf handlers of the shortlink operator: declarations only, each a few lines.

The operator's memory is a `LinkIndex` of every ShortLink (fed here, seeded by the publisher with
one LIST, see `link_index` for why it is not a kopf index) and two small kopf indices: every
ShortLinkPolicy and the labels of every namespace (for policies that select by label). Event
handlers only update the link index and ask the publisher for a pass; no handler writes to a
ShortLink itself, and none is a change-detecting handler, so kopf adds no finalizer and no
annotations.
"""

import asyncio
from typing import Any

import kopf

from shortlink_core.api import GROUP, PLURAL, POLICY_PLURAL, VERSION
from shortlink_operator.config import OperatorConfig
from shortlink_operator.kopf_settings import configure
from shortlink_operator.kube import Kube
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import LinkIndex
from shortlink_operator.policy import Policy, index_policy
from shortlink_operator.publisher import Inputs, Publisher, now


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: OperatorConfig = memo.config
    configure(settings)
    kube = Kube(namespace=config.namespace, metrics=memo.metrics)
    leadership = Leadership(
        kube=kube,
        name=config.lease_name,
        identity=config.identity,
        duration=config.lease_seconds,
        clock=now,
    )
    memo.links = LinkIndex()
    memo.publisher = Publisher(kube=kube, config=config, leadership=leadership, links=memo.links)
    memo.publishing = asyncio.create_task(memo.publisher.run(), name="shortlink-publisher")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("publishing")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await memo.publisher.stop()  # hand the Lease over at once to a standby


@kopf.index(GROUP, VERSION, POLICY_PLURAL)
def policies(body: kopf.Body, **_: Any) -> dict[str, Policy]:
    policy = index_policy(body)
    return {policy.name: policy}


@kopf.index("", "v1", "namespaces")
def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.on.event(GROUP, VERSION, PLURAL)
def link_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **indices: Any) -> None:
    memo.links.apply(body, deleted=type == "DELETED")
    memo.publisher.request(lambda: snapshot(memo.links, **indices))


@kopf.on.event(GROUP, VERSION, POLICY_PLURAL)
@kopf.on.event("", "v1", "namespaces")
def scope_changed(memo: kopf.Memo, **indices: Any) -> None:
    memo.publisher.request(lambda: snapshot(memo.links, **indices))


def snapshot(
    links: LinkIndex,
    policies: kopf.Index[str, Policy],
    namespace_labels: kopf.Index[str, dict[str, str]],
    **_: Any,
) -> Inputs:
    """What the indices hold now; kopf passes every index to every handler, by name."""
    return Inputs(
        links=links.snapshot(),
        policies=[policy for store in policies.values() for policy in store],
        namespace_labels={
            name: labels for name, store in namespace_labels.items() for labels in store
        },
    )


@kopf.on.probe(id="lastPublished")
def last_published(memo: kopf.Memo, **_: Any) -> float | None:
    publisher: Publisher = memo.publisher
    return publisher.last_success
