"""The objects a targetRef may name, as the operator indexes them: only the fields resolution
reads (a change elsewhere is no reason for a pass), what the links refer to, and seeding when the
Gateway API is not installed."""

import asyncio
from typing import Any, cast

import kopf

from shortlink_operator import handlers
from shortlink_operator.kube import Listing, NotFound
from shortlink_operator.link_index import Indexes, ObjectIndex, index_link
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.publisher import Publisher, inputs_of, referenced_by
from shortlink_operator.referents import Service, read_httproute, read_service
from shortlink_operator.resolution import Referents
from tests.unit.test_publisher import CONFIG, ListingKube, eventually, routes


def service_body(version: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "svc", "namespace": "team", "resourceVersion": version, "uid": "u"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }
    for key, value in changes.items():
        body[key] = {**body[key], **value}
    return body


def test_a_change_resolution_does_not_read_is_no_change() -> None:
    index: ObjectIndex[Service] = ObjectIndex(read_service)
    assert index.apply(service_body("1"))
    assert not index.apply(service_body("2", metadata={"labels": {"x": "y"}}))
    assert not index.apply(service_body("3", spec={"clusterIP": "10.0.0.9"}))
    assert index.apply(
        service_body("4", status={"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}})
    )
    annotated = service_body("5", metadata={"annotations": {"shortlink.dev/slug": "svc"}})
    assert index.apply(annotated)


def link(link_name: str, **target: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": link_name, "namespace": "team", "resourceVersion": "1"},
        "spec": {"targetRef": target},
    }


def test_links_refer_to_their_objects_and_an_httproute_to_its_gateways() -> None:
    route = read_httproute(
        {
            "metadata": {"name": "r", "namespace": "team"},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "infra"}, {"name": "local"}]},
        }
    )
    links = [
        index_link(link("a", kind="HTTPRoute", name="r")),
        index_link(link("b", kind="Service", name="s", namespace="other")),
        index_link(
            {"metadata": {"name": "c", "namespace": "team"}, "spec": {"url": "https://e.com/"}}
        ),
    ]
    assert referenced_by(links, Referents(httproutes={("team", "r"): route})) == {
        ("HTTPRoute", "team", "r"),
        ("Service", "other", "s"),
        ("Gateway", "infra", "gw"),
        ("Gateway", "team", "local"),
    }


def test_taking_a_snapshot_notes_what_it_refers_to() -> None:
    indexes = Indexes()
    indexes.links.apply(link("a", kind="Ingress", name="web"))
    assert indexes.referenced == frozenset()
    inputs_of(indexes)
    assert indexes.referenced == {("Ingress", "team", "web")}


class NoGatewayApi(ListingKube):
    """A cluster without the Gateway API: listing HTTPRoutes and Gateways answers 404."""

    async def list_objects(self, version: str, plural: str) -> Listing:
        if version.startswith("gateway.networking.k8s.io/"):
            raise NotFound(plural)
        return await super().list_objects(version, plural)

    async def list_present(self, version: str, plural: str) -> tuple[set[tuple[str, str]], int]:
        if version.startswith("gateway.networking.k8s.io/"):
            raise NotFound(plural)
        return await super().list_present(version, plural)


async def test_without_the_gateway_api_the_operator_still_publishes() -> None:
    body = {
        "metadata": {"name": "a", "namespace": "team", "resourceVersion": "5"},
        "spec": {"url": "https://e.com/a"},
    }
    kube = NoGatewayApi([body, link("route", kind="HTTPRoute", name="r")])
    indexes = Indexes()
    publisher = Publisher(kube=kube, config=CONFIG, metrics=OperatorMetrics(), indexes=indexes)
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: set(routes(kube)) == {"a"})
        assert indexes.complete
        assert len(indexes.httproutes) == 0
        await eventually(lambda: ("team", "route") in kube.statuses)
        condition = kube.statuses[("team", "route")]["conditions"][0]
        assert condition["reason"] == "TargetNotFound"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Requests:
    def __init__(self) -> None:
        self.count = 0

    def request(self, source: Any) -> None:
        self.count += 1

    def relisted(self, kind: str) -> None:
        pass


def test_only_a_change_to_an_object_a_link_names_or_that_declares_one_asks_for_a_pass() -> None:
    memo = kopf.Memo()
    memo.indexes, memo.publisher = Indexes(), Requests()
    memo.indexes.links.apply(link("a", kind="Service", name="named"))
    inputs_of(memo.indexes)

    def event(name: str, version: str, **annotations: str) -> None:
        body = service_body(version, metadata={"name": name, "annotations": annotations})
        raw = kopf.Body(cast(kopf.RawBody, body))
        handlers._take_referent(memo, memo.indexes.services, raw, "MODIFIED", kind="Service")

    event("other", "1")
    event("other", "2", unrelated="x")
    assert memo.publisher.count == 0
    event("named", "3")
    assert memo.publisher.count == 1
    event("declaring", "4", **{"shortlink.dev/slug": "d"})
    assert memo.publisher.count == 2
