"""Links declared by annotations on an Ingress or Service, on the real API server: the operator
creates the ShortLink (owned by the object, pointing back at it), keeps it as declared, deletes it
with the annotation, and reports conflicts as Events on the annotated object.

The local control plane runs no kube-controller-manager, so the garbage collection of a link whose
object is deleted is shown by its ownerReference, and the link is then deleted as the collector
would. An external cluster (the node tier's) runs the collector, which may delete the link first:
the test accepts either (the node tier's own test shows the collector doing it).
"""

import json
import subprocess
from typing import Any

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, not_served, served, shortlink


def annotated_service(name: str, base_url: str, **annotations: str) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "annotations": {"shortlink.dev/base-url": base_url, **annotations},
        },
        "spec": {"type": "ClusterIP", "ports": [{"port": 80}]},
    }
    return json.dumps(body)


def annotated_ingress(name: str, host: str, **annotations: str) -> str:
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"rules": [{"host": host}]},
    }
    return json.dumps(body)


def link_of(cluster: Cluster, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        result = cluster.kubectl("get", "shortlink", name, "-o", "json", check=False)
        assert result.returncode == 0, result.stderr
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    return eventually(check)


def gone(cluster: Cluster, name: str) -> None:
    def check() -> None:
        result = cluster.kubectl("get", "shortlink", name, check=False)
        assert "NotFound" in result.stderr, result.stdout

    eventually(check)


def events_on(cluster: Cluster, kind: str, name: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    listed = cluster.kubectl("get", "events", "--field-selector", selector, "-o", "json")
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def test_an_annotated_ingress_gets_an_owned_link_that_follows_its_annotations(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug, host = f"wiki-{unique}", f"wiki-{unique}.example.com"
    cluster.apply(
        annotated_ingress(
            "wiki",
            host,
            **{
                "shortlink.dev/slug": slug,
                "shortlink.dev/aliases": f"w-{unique}",
                "shortlink.dev/description": "The wiki",
            },
        )
    )
    served(stack, slug, f"http://{host}/")
    served(stack, f"w-{unique}", f"http://{host}/")
    link = link_of(cluster, "ingress-wiki")
    uid = cluster.get("ingress", "wiki")["metadata"]["uid"]
    assert link["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": "wiki",
            "uid": uid,
            "controller": True,
        }
    ]
    assert link["spec"]["targetRef"] == {"kind": "Ingress", "name": "wiki"}
    assert link["spec"]["description"] == "The wiki"
    cluster.wait_reason("ingress-wiki", "Published")

    # A new slug in the annotation: the link follows; a hand edit is undone.
    cluster.apply(annotated_ingress("wiki", host, **{"shortlink.dev/slug": f"{slug}-2"}))
    served(stack, f"{slug}-2", f"http://{host}/")
    not_served(stack, slug)
    not_served(stack, f"w-{unique}")
    cluster.kubectl(
        "patch", "shortlink", "ingress-wiki", "--type=merge", "-p", '{"spec":{"slug":"mine"}}'
    )
    eventually(lambda: _assert_slug(cluster, "ingress-wiki", f"{slug}-2"))
    served(stack, f"{slug}-2", f"http://{host}/")

    # The annotation removed: the link is deleted.
    cluster.apply(annotated_ingress("wiki", host))
    gone(cluster, "ingress-wiki")
    not_served(stack, f"{slug}-2")


def _assert_slug(cluster: Cluster, name: str, slug: str) -> None:
    assert cluster.get("shortlink", name)["spec"]["slug"] == slug


def test_a_deleted_object_leaves_its_link_to_the_garbage_collector(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"svc-{unique}"
    target = f"https://svc-{unique}.example.com/"
    cluster.apply(annotated_service("svc", target, **{"shortlink.dev/slug": slug}))
    served(stack, slug, target)
    uid = cluster.get("service", "svc")["metadata"]["uid"]
    # The collector (kube-controller-manager) deletes what this names once the Service is gone:
    [owner] = link_of(cluster, "service-svc")["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Service",
        "svc",
        uid,
        True,
    )
    cluster.kubectl("delete", "service", "svc")
    not_served(stack, slug)

    def collected_or_reported() -> None:
        """Deleted by a collector, or (where none runs) still there saying its target is gone."""
        found = cluster.kubectl("get", "shortlink", "service-svc", "-o", "json", check=False)
        if "NotFound" in found.stderr:
            return
        conditions = json.loads(found.stdout).get("status", {}).get("conditions", [])
        reasons = {c["reason"] for c in conditions if c["type"] == "Ready"}
        assert reasons == {"TargetNotFound"}, conditions

    eventually(collected_or_reported)
    # Without a collector, delete it as the collector would.
    cluster.kubectl("delete", "shortlink", "service-svc", "--ignore-not-found")
    gone(cluster, "service-svc")
    # ... and the operator does not bring it back for an object that is gone.
    cluster.apply(shortlink(f"probe-{unique}", "https://example.com/probe"))
    served(stack, f"probe-{unique}", "https://example.com/probe")
    assert cluster.kubectl("get", "shortlink", "service-svc", check=False).returncode != 0


def test_conflicts_are_events_on_the_annotated_object(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"taken-{unique}"
    cluster.apply(shortlink("first", "https://first.example/", slug=slug))
    served(stack, slug, "https://first.example/")
    cluster.apply(
        annotated_service("late", "https://late.example/", **{"shortlink.dev/slug": slug})
    )
    cluster.wait_reason("service-late", "SlugConflict")

    def conflict_event() -> None:
        reasons = {(e["reason"], e["type"]) for e in events_on(cluster, "Service", "late")}
        assert ("SlugConflict", "Warning") in reasons, reasons

    eventually(conflict_event)
    served(stack, slug, "https://first.example/")  # the first link keeps its slug

    # A ShortLink the object does not own already has the declared name: left alone, reported.
    cluster.apply(shortlink("service-mine", "https://mine.example/", slug=f"mine-{unique}"))
    cluster.apply(
        annotated_service("mine", "https://x.example/", **{"shortlink.dev/slug": f"x-{unique}"})
    )

    def taken_event() -> None:
        messages = [e["message"] for e in events_on(cluster, "Service", "mine")]
        assert any("was not declared by this Service" in m for m in messages), messages

    eventually(taken_event)
    assert cluster.get("shortlink", "service-mine")["spec"]["url"] == "https://mine.example/"
    served(stack, f"mine-{unique}", "https://mine.example/")


def test_an_invalid_annotation_is_reported_and_creates_nothing(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(
        annotated_service("bad", "https://bad.example/", **{"shortlink.dev/slug": "Not A Slug"})
    )

    def reported() -> None:
        reasons = {e["reason"] for e in events_on(cluster, "Service", "bad")}
        assert "InvalidAnnotation" in reasons, reasons

    eventually(reported)
    result = cluster.kubectl("get", "shortlink", "service-bad", check=False)
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode != 0
