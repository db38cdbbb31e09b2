"""`spec.targetRef` on the real API server: links that point at an Ingress, an HTTPRoute or a
Service follow the object as it is created, changed and deleted; references to another namespace
need a ShortLinkPolicy; the CRD refuses a link with both or neither of url and targetRef.

The Gateway API's CRDs are applied during this module, after the operator started: the operator
begins following HTTPRoutes and Gateways when their API appears.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack, kubectl
from shortlink_localcluster.tools import default_cache_dir, gateway_api_crds
from tests.cluster.helpers import Cluster, eventually, not_served, served


def link(link_name: str, **target: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "shortlink.dev/v1alpha1",
            "kind": "ShortLink",
            "metadata": {"name": link_name},
            "spec": {"targetRef": target},
        }
    )


def ingress(name: str, host: str, *, tls: bool = False, path: str = "/") -> str:
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": path,
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": "web-tls"}]
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": spec,
    }
    return json.dumps(body)


def service(name: str, *, type: str, ports: list[dict[str, Any]], **annotations: str) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": type, "ports": ports, "selector": {"app": name}},
    }
    return json.dumps(body)


def resolved(cluster: Cluster, name: str, url: str, *, namespace: str = "") -> None:
    def check() -> None:
        status = cluster.get("shortlink", name, namespace=namespace).get("status") or {}
        assert status.get("resolvedURL") == url, status

    eventually(check)


def test_a_link_follows_its_ingress_through_create_change_and_delete(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"web-{unique}"
    cluster.apply(link(slug, kind="Ingress", name="web"))
    condition = cluster.wait_reason(slug, "TargetNotFound")
    assert condition["status"] == "False"
    assert f"Ingress {cluster.namespace}/web does not exist" in condition["message"]
    not_served(stack, slug)

    host = f"app-{unique}.example.com"
    cluster.apply(ingress("web", host, path="/app"))
    served(stack, slug, f"http://{host}/app")
    resolved(cluster, slug, f"http://{host}/app")
    cluster.wait_reason(slug, "Published")
    header, row = cluster.kubectl("get", "sl", slug, "-o", "wide").stdout.splitlines()
    column = header.index("RESOLVED URL")
    assert row[column:].split()[0] == f"http://{host}/app"

    # TLS for the host: https. A new host: the link follows.
    cluster.apply(ingress("web", host, tls=True, path="/app"))
    served(stack, slug, f"https://{host}/app")
    cluster.apply(ingress("web", f"moved-{unique}.example.com", tls=True))
    served(stack, slug, f"https://moved-{unique}.example.com/")

    # The Ingress goes away: the link is not served, and comes back with it.
    cluster.kubectl("delete", "ingress", "web")
    not_served(stack, slug)
    cluster.wait_reason(slug, "TargetNotFound")
    assert "resolvedURL" not in cluster.get("shortlink", slug)["status"]
    cluster.apply(ingress("web", host))
    served(stack, slug, f"http://{host}/")


def test_a_load_balancer_service_is_linked_by_its_address_and_a_cluster_ip_one_is_not(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    lb, internal = f"lb-{unique}", f"internal-{unique}"
    cluster.apply(service("lb", type="LoadBalancer", ports=[{"name": "https", "port": 8443}]))
    cluster.apply(link(lb, kind="Service", name="lb", path="/status"))
    cluster.wait_reason(lb, "TargetUnresolvable")
    # The cloud's load balancer controller writes the address (here: the test, as it would).
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}
    cluster.kubectl(
        "patch", "service", "lb", "--subresource=status", "--type=merge", "-p", json.dumps(status)
    )
    served(stack, lb, "https://203.0.113.10:8443/status")

    cluster.apply(service("db", type="ClusterIP", ports=[{"port": 5432}]))
    cluster.apply(link(internal, kind="Service", name="db"))
    condition = cluster.wait_reason(internal, "TargetUnresolvable")
    assert "is of type ClusterIP" in condition["message"]
    not_served(stack, internal)
    # Annotated with the URL it is reached at, any Service can be linked.
    annotated = service(
        "db",
        type="ClusterIP",
        ports=[{"port": 5432}],
        **{"shortlink.dev/base-url": f"https://db-{unique}.example.com/ui"},
    )
    cluster.apply(annotated)
    served(stack, internal, f"https://db-{unique}.example.com/ui")


def test_a_hostile_base_url_annotation_is_never_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"hostile-{unique}"
    bad = service(
        "x",
        type="ClusterIP",
        ports=[{"port": 80}],
        **{"shortlink.dev/base-url": "javascript:alert(1)"},
    )
    cluster.apply(bad)
    cluster.apply(link(slug, kind="Service", name="x"))
    condition = cluster.wait_reason(slug, "TargetUnresolvable")
    assert "url must be an absolute http:// or https:// URL" in condition["message"]
    not_served(stack, slug)


@pytest.fixture(scope="module")
def gateway_api(control_plane: ControlPlane) -> None:
    """The Gateway API's HTTPRoute and Gateway CRDs, generated from its Go types.

    kopf looks for new kinds when a CRD changes; when the API server's discovery lists the new
    kind only after the CRD's last change, kopf does not see it until some CRD changes again
    (the README says to restart the operator after installing the Gateway API). So once the
    kinds are served, the CRDs are labelled: that change is what makes kopf look again.
    """
    crds = ("crd/httproutes.gateway.networking.k8s.io", "crd/gateways.gateway.networking.k8s.io")
    for path in gateway_api_crds(default_cache_dir()):
        kubectl(control_plane, "apply", "--server-side", "--field-manager=test", "-f", str(path))
    kubectl(control_plane, "wait", "--for=condition=Established", "--timeout=150s", *crds)

    def served() -> None:
        listed = kubectl(control_plane, "api-resources", "--api-group=gateway.networking.k8s.io")
        assert {"httproutes", "gateways"} <= set(listed.stdout.split())

    eventually(served)
    kubectl(control_plane, "label", "--overwrite", *crds, "shortlink.dev/test-discovered=true")


def gateway(name: str, *listeners: dict[str, Any]) -> str:
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {"gatewayClassName": "example", "listeners": list(listeners)},
    }
    return json.dumps(body)


def httproute(name: str, host: str, gateway: str) -> str:
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "hostnames": [host],
            "parentRefs": [{"name": gateway}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/grafana"}}]}],
        },
    }
    return json.dumps(body)


def test_a_link_to_an_httproute_takes_its_gateways_listener(
    cluster: Cluster, stack: Stack, unique: str, gateway_api: None
) -> None:
    slug, host = f"route-{unique}", f"grafana-{unique}.example.com"
    cluster.apply(link(slug, kind="HTTPRoute", name="grafana"))
    cluster.wait_reason(slug, "TargetNotFound")
    # No Gateway yet: https is assumed.
    cluster.apply(httproute("grafana", host, "edge"))
    served(stack, slug, f"https://{host}/grafana")
    # The Gateway appears with a plain HTTP listener on 8080: the link follows it.
    cluster.apply(gateway("edge", {"name": "web", "protocol": "HTTP", "port": 8080}))
    served(stack, slug, f"http://{host}:8080/grafana")
    resolved(cluster, slug, f"http://{host}:8080/grafana")
    # An HTTPS listener is added: https on its port.
    cluster.apply(
        gateway(
            "edge",
            {"name": "web", "protocol": "HTTP", "port": 8080},
            {
                "name": "tls",
                "protocol": "HTTPS",
                "port": 443,
                "tls": {"certificateRefs": [{"name": "edge-tls"}]},
            },
        )
    )
    served(stack, slug, f"https://{host}/grafana")
    cluster.kubectl("delete", "httproute", "grafana")
    not_served(stack, slug)
    cluster.wait_reason(slug, "TargetNotFound")


@pytest.fixture
def target_policy(cluster: Cluster, unique: str) -> Iterator[tuple[str, str]]:
    """A namespace of private objects, and a policy for this test's namespace (no targets yet)."""
    private = cluster.new_namespace()
    name = f"targets-{unique}"
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": [cluster.namespace], "allowedSlugPrefixes": [""]},
    }
    cluster.apply(json.dumps(body))
    yield private, name
    cluster.kubectl("delete", "shortlinkpolicy", name, namespace=None)


def test_a_reference_to_another_namespace_needs_a_policy_that_lists_it(
    cluster: Cluster, stack: Stack, unique: str, target_policy: tuple[str, str]
) -> None:
    private, policy = target_policy
    slug, host = f"peek-{unique}", f"private-{unique}.internal.example"
    cluster.apply(ingress("admin", host), namespace=private)
    cluster.apply(link(slug, kind="Ingress", name="admin", namespace=private))
    condition = cluster.wait_reason(slug, "PolicyViolation")
    assert f"lists {private!r} in allowedTargetNamespaces" in condition["message"]
    assert host not in json.dumps(cluster.get("shortlink", slug))  # nothing of it leaks
    not_served(stack, slug)

    patch = {"spec": {"allowedTargetNamespaces": [private]}}
    cluster.kubectl(
        "patch", "shortlinkpolicy", policy, "--type=merge", "-p", json.dumps(patch), namespace=None
    )
    served(stack, slug, f"http://{host}/")
    cluster.wait_reason(slug, "Published")
