"""The kopf handlers of the shortlink operator: declarations only, each a few lines.

Three kopf indices are the operator's memory: every ShortLink, every ShortLinkPolicy, and the
labels of every namespace (for policies that select namespaces by label). kopf fills them
completely before any event handler runs, so the first table the publisher writes already holds
every link. Event handlers only ask the publisher for a pass; no handler writes to a ShortLink
itself, and none is a change-detecting handler, so kopf adds no finalizer and no annotations.
"""

import asyncio
from typing import Any

import kopf

from shortlink_core.api import GROUP, PLURAL, POLICY_PLURAL, VERSION
from shortlink_operator.config import OperatorConfig
from shortlink_operator.kopf_settings import configure
from shortlink_operator.kube import Kube
from shortlink_operator.leadership import Leadership
from shortlink_operator.links import IndexedLink, index_link
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
    memo.publisher = Publisher(kube=kube, config=config, leadership=leadership)
    memo.publishing = asyncio.create_task(memo.publisher.run(), name="shortlink-publisher")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("publishing")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await memo.publisher.stop()  # hand the Lease over at once to a standby


@kopf.index(GROUP, VERSION, PLURAL)
def shortlinks(body: kopf.Body, **_: Any) -> dict[tuple[str, str], IndexedLink]:
    link = index_link(body)
    return {link.key: link}


@kopf.index(GROUP, VERSION, POLICY_PLURAL)
def policies(body: kopf.Body, **_: Any) -> dict[str, Policy]:
    policy = index_policy(body)
    return {policy.name: policy}


@kopf.index("", "v1", "namespaces")
def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.on.event(GROUP, VERSION, PLURAL)
@kopf.on.event(GROUP, VERSION, POLICY_PLURAL)
@kopf.on.event("", "v1", "namespaces")
def changed(memo: kopf.Memo, **indices: Any) -> None:
    memo.publisher.request(lambda: snapshot(**indices))


def snapshot(
    shortlinks: kopf.Index[tuple[str, str], IndexedLink],
    policies: kopf.Index[str, Policy],
    namespace_labels: kopf.Index[str, dict[str, str]],
    **_: Any,
) -> Inputs:
    """What the indices hold now; kopf passes every index to every handler, by name."""
    return Inputs(
        links=[link for store in shortlinks.values() for link in store],
        policies=[policy for store in policies.values() for policy in store],
        namespace_labels={
            name: labels for name, store in namespace_labels.items() for labels in store
        },
    )


@kopf.on.probe(id="lastPublished")
def last_published(memo: kopf.Memo, **_: Any) -> float | None:
    publisher: Publisher = memo.publisher
    return publisher.last_success
