"""Links declared by annotations: which ShortLinks to create, bring back and delete, what is
reported on the annotated object, and that a declared link's warnings reach its object."""

from collections.abc import Mapping
from typing import Any

from shortlink_operator.declared import declarations, link_name
from shortlink_operator.kube import Refused
from shortlink_operator.link_index import Indexes, index_link
from shortlink_operator.metrics import OperatorMetrics
from shortlink_operator.planning import PlanConfig, plan
from shortlink_operator.publisher import Publisher, inputs_of
from shortlink_operator.referents import read_service
from shortlink_operator.resolution import Referents
from tests.unit.test_publisher import CONFIG, FakeKube

MANAGED = {"app.kubernetes.io/managed-by": "shortlink-operator"}


def service(name: str = "grafana", uid: str = "u1", **annotations: str) -> Referents:
    body = {
        "metadata": {"name": name, "namespace": "team", "uid": uid, "annotations": annotations},
        "spec": {"type": "ClusterIP"},
    }
    return Referents(services={("team", name): read_service(body)})


def owned(spec: dict[str, Any], *, uid: str = "u1", name: str = "service-grafana") -> Any:
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": "grafana",
        "uid": uid,
        "controller": True,
    }
    body = {
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": "link-uid",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": MANAGED,
            "ownerReferences": [owner],
        },
        "spec": spec,
    }
    return index_link(body)


DECLARED: dict[str, Any] = {"slug": "grafana", "targetRef": {"kind": "Service", "name": "grafana"}}


def test_an_annotated_object_gets_an_owned_link_pointing_back() -> None:
    wanted = declarations(
        service(**{"shortlink.dev/slug": "grafana", "shortlink.dev/aliases": "graf, dash,"}), []
    )
    [write] = wanted.writes
    assert write.name is None
    assert write.body == {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {
            "name": "service-grafana",
            "namespace": "team",
            "labels": MANAGED,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": "grafana",
                    "uid": "u1",
                    "controller": True,
                }
            ],
        },
        "spec": {**DECLARED, "aliases": ["graf", "dash"]},
    }
    assert wanted.problems == []
    assert wanted.delete == []


def test_a_link_as_declared_is_left_alone_and_one_edited_by_hand_is_brought_back() -> None:
    found = service(**{"shortlink.dev/slug": "grafana"})
    assert declarations(found, [owned(DECLARED)]).writes == []
    edited = {**DECLARED, "slug": "mine", "targetRef": {**DECLARED["targetRef"], "path": "/x"}}
    [write] = declarations(found, [owned(edited)]).writes
    assert write.name == "service-grafana"
    assert write.body["spec"]["slug"] == "grafana"
    assert write.body["spec"]["targetRef"] == {
        "kind": "Service",
        "name": "grafana",
        "namespace": None,
        "path": None,
        "port": None,
    }


def test_a_recreated_object_adopts_its_link() -> None:
    found = service(uid="u2", **{"shortlink.dev/slug": "grafana"})
    [write] = declarations(found, [owned(DECLARED, uid="u1")]).writes
    assert write.body["metadata"]["ownerReferences"][0]["uid"] == "u2"


def test_removing_the_annotation_deletes_the_link_and_only_an_owned_one() -> None:
    assert declarations(service(), [owned(DECLARED)]).delete == [
        ("team", "service-grafana", "link-uid")
    ]
    hand_made = index_link(
        {"metadata": {"name": "service-grafana", "namespace": "team"}, "spec": DECLARED}
    )
    assert declarations(service(), [hand_made]).delete == []


def test_an_object_that_is_gone_leaves_its_link_to_the_garbage_collector() -> None:
    assert declarations(Referents(), [owned(DECLARED)]).delete == []


def test_a_link_of_that_name_not_owned_by_the_object_is_reported_and_left() -> None:
    hand_made = index_link(
        {
            "metadata": {"name": "service-grafana", "namespace": "team"},
            "spec": {"url": "https://e.com/"},
        }
    )
    wanted = declarations(service(**{"shortlink.dev/slug": "grafana"}), [hand_made])
    assert wanted.writes == []
    [problem] = wanted.problems
    assert (problem.about.kind, problem.about.name, problem.reason) == (
        "Service",
        "grafana",
        "LinkNameTaken",
    )


def test_annotations_that_make_no_valid_link_are_reported_on_the_object() -> None:
    wanted = declarations(service(**{"shortlink.dev/slug": "Not A Slug"}), [])
    assert wanted.writes == []
    [problem] = wanted.problems
    assert problem.reason == "InvalidAnnotation"
    assert "may contain only lowercase letters" in problem.message


def test_a_long_object_name_gives_a_valid_link_name() -> None:
    name = link_name("HTTPRoute", "a" * 250)
    assert len(name) == 253
    assert name.startswith("httproute-aaa")
    assert link_name("HTTPRoute", "a" * 250) == name != link_name("HTTPRoute", "a" * 249 + "b")


def test_a_declared_links_conflict_is_an_event_on_its_object_too() -> None:
    declared = owned({**DECLARED, "slug": "docs"})
    older = index_link(
        {
            "metadata": {
                "name": "docs",
                "namespace": "team",
                "uid": "o",
                "creationTimestamp": "2020-01-01T00:00:00Z",
            },
            "spec": {"url": "https://e.com/"},
        }
    )
    result = plan(
        [older, declared],
        settings=PlanConfig(base_url="https://go.example.com", shard_count=2),
        now=0,
    )
    on_object = [e for e in result.events if e.kind == "Service"]
    [event] = on_object
    assert (event.name, event.uid, event.reason, event.type) == (
        "grafana",
        "u1",
        "SlugConflict",
        "Warning",
    )
    assert event.api_version == "v1"
    assert event.message.startswith("ShortLink team/service-grafana: slug 'docs' is already served")


class RefusingKube(FakeKube):
    """Refuses every ShortLink it is asked to create, as an admission policy may."""

    def __init__(self) -> None:
        super().__init__()
        self.creates = 0
        self.events: list[dict[str, Any]] = []

    async def create_shortlink(self, body: Mapping[str, Any]) -> None:
        self.creates += 1
        raise Refused("denied request: slug grafana is not allowed", 403)

    async def post_event(self, **event: Any) -> None:
        self.events.append(event)


async def test_a_refused_link_is_reported_on_its_object_once_and_not_tried_again() -> None:
    kube = RefusingKube()
    indexes = Indexes()
    for _, index in indexes.every():
        index.seed(())
    body: dict[str, Any] = {
        "metadata": {
            "name": "grafana",
            "namespace": "team",
            "uid": "u1",
            "resourceVersion": "1",
            "annotations": {"shortlink.dev/slug": "grafana"},
        },
        "spec": {"type": "ClusterIP"},
    }
    indexes.services.apply(body)
    publisher = Publisher(kube=kube, config=CONFIG, metrics=OperatorMetrics(), indexes=indexes)
    for _ in range(3):
        await publisher.publish(inputs_of(indexes))
    assert kube.creates == 1
    [event] = kube.events
    assert (event["kind"], event["name"], event["uid"], event["reason"]) == (
        "Service",
        "grafana",
        "u1",
        "LinkRefused",
    )
    assert "slug grafana is not allowed" in event["message"]
    # A new declaration is tried anew.
    body["metadata"] |= {"resourceVersion": "2", "annotations": {"shortlink.dev/slug": "other"}}
    indexes.services.apply(body)
    await publisher.publish(inputs_of(indexes))
    assert kube.creates == 2
