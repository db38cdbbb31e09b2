"""The kopf handlers of the shortlink operator: declarations only, each a few lines.

The operator's memory is `Indexes`: every ShortLink, every ShortLinkPolicy, the labels of every
namespace (for policies that select by label) and every object a `targetRef` may name, fed here
and seeded with one LIST each before the first pass (`seeding`; see `link_index` for why the
operator keeps them, not kopf). Event handlers only update an index and, when what a plan reads
changed, ask the publisher for a pass (or, when kopf lists a kind again after a watch gap, for a
re-listing that forgets what was deleted); no handler writes to a ShortLink itself, and none is a
change-detecting handler, so kopf adds no finalizer and no annotations. Event handlers are
coroutines: kopf runs a plain function in a worker thread, where the indexes would change under a
pass reading them and the publisher's asyncio calls have no event loop.

An Ingress, HTTPRoute, Service or Gateway change asks for a pass only when a link refers to the
object (`Indexes.referenced`) or the object declares a link by annotation: the rest of a
cluster's Services come and go without costing a pass.
"""

import asyncio
from typing import Any

import kopf

from shortlink_core.api import GROUP, PLURAL, POLICY_PLURAL, VERSION
from shortlink_operator.config import OperatorConfig
from shortlink_operator.drift import follow_table
from shortlink_operator.http_probe import HttpProbe
from shortlink_operator.kopf_config import configure
from shortlink_operator.kube import Kube
from shortlink_operator.leadership import Leadership
from shortlink_operator.link_index import Indexes, ObjectIndex
from shortlink_operator.prober import Prober
from shortlink_operator.prometheus import Prometheus
from shortlink_operator.publisher import Publisher, inputs_of, now
from shortlink_operator.referents import read_declaration
from shortlink_operator.visit_reporter import VisitReporter


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
    memo.indexes = Indexes()
    memo.publisher = Publisher(
        kube=kube,
        config=config,
        metrics=memo.metrics,
        leadership=leadership,
        indexes=memo.indexes,
    )
    memo.publishing = asyncio.create_task(memo.publisher.run(), name="shortlink-publisher")
    memo.table_watch = asyncio.create_task(
        follow_table(
            kube=kube,
            changed=memo.publisher.table_changed,
            restarted=memo.publisher.table_restarted,
        ),
        name="shortlink-table-watch",
    )
    if config.prometheus_url:  # a task of its own: visits never hold up publishing
        memo.visits = VisitReporter(
            kube=kube,
            metrics=memo.metrics,
            prometheus=Prometheus(config.prometheus_url),
            links=memo.indexes.links.snapshot,
            interval=config.visits_interval_seconds,
            writes_per_second=config.visits_writes_per_second,
            leadership=leadership,
        )
        memo.reporting = asyncio.create_task(memo.visits.run(), name="shortlink-visits")
    if config.probe_targets:  # a task of its own: probes never hold up publishing
        prober = Prober(
            kube=kube,
            fetch=HttpProbe(
                timeout=config.probe_timeout_seconds,
                allow_private=config.probe_private_addresses,
            ),
            links=memo.indexes.links.snapshot,
            interval=config.probe_interval_seconds,
            rate=config.probe_rate,
            concurrency=config.probe_concurrency,
            writes_per_second=config.probe_writes_per_second,
            leadership=leadership,
        )
        memo.probing = asyncio.create_task(prober.run(), name="shortlink-probes")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    reporting: asyncio.Task[None] | None = memo.get("reporting")
    if reporting is not None:
        reporting.cancel()
        await asyncio.gather(reporting, return_exceptions=True)
        await memo.visits.close()
    running = ("probing", "publishing", "table_watch")
    tasks: list[asyncio.Task[None]] = [task for task in map(memo.get, running) if task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if memo.get("publishing") is not None:
        await memo.publisher.stop()  # hand the Lease over at once to a standby


@kopf.on.event(GROUP, VERSION, PLURAL)
async def link_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take(memo, memo.indexes.links, body, type, kind=PLURAL)


@kopf.on.event(GROUP, VERSION, POLICY_PLURAL)
async def policy_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take(memo, memo.indexes.policies, body, type, kind=POLICY_PLURAL)


@kopf.on.event("", "v1", "namespaces")
async def namespace_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take(memo, memo.indexes.namespaces, body, type, kind="namespaces")


@kopf.on.event("networking.k8s.io", "v1", "ingresses")
async def ingress_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take_referent(memo, memo.indexes.ingresses, body, type, kind="Ingress")


@kopf.on.event("gateway.networking.k8s.io", "v1", "httproutes")
async def httproute_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take_referent(memo, memo.indexes.httproutes, body, type, kind="HTTPRoute")


@kopf.on.event("gateway.networking.k8s.io", "v1", "gateways")
async def gateway_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take_referent(memo, memo.indexes.gateways, body, type, kind="Gateway")


@kopf.on.event("", "v1", "services")
async def service_changed(memo: kopf.Memo, body: kopf.Body, type: str | None, **_: Any) -> None:
    _take_referent(memo, memo.indexes.services, body, type, kind="Service")


def _take_referent(
    memo: kopf.Memo, index: ObjectIndex[Any], body: kopf.Body, type: str | None, *, kind: str
) -> None:
    meta = body["metadata"]
    key = (kind, meta.get("namespace") or "", meta["name"])
    declares = bool(read_declaration(meta)) and kind != "Gateway"
    changed = index.apply(body, deleted=type == "DELETED", listed=type is None)
    if changed and (declares or key in memo.indexes.referenced):
        memo.publisher.request(lambda: inputs_of(memo.indexes))
    if index.relisted():
        memo.publisher.relisted(kind)


def _take(
    memo: kopf.Memo, index: ObjectIndex[Any], body: kopf.Body, type: str | None, *, kind: str
) -> None:
    # An event without a type is kopf's listing: at start-up, or again after a watch gap.
    if index.apply(body, deleted=type == "DELETED", listed=type is None):
        memo.publisher.request(lambda: inputs_of(memo.indexes))
    if index.relisted():
        memo.publisher.relisted(kind)


@kopf.on.probe(id="lastPublished")
def last_published(memo: kopf.Memo, **_: Any) -> float | None:
    publisher: Publisher = memo.publisher
    return publisher.last_success
