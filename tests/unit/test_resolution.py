"""Resolving `spec.targetRef`: each kind's address, scheme, port and path, the fallbacks, and that
nothing an object says gets past the URL judge."""

from typing import Any

import ada_url
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shortlink_core.errors import InvalidLink
from shortlink_core.link import TargetRef
from shortlink_core.targets import judge_host, judge_target
from shortlink_operator.conditions import Reason
from shortlink_operator.referents import read_gateway, read_httproute, read_ingress, read_service
from shortlink_operator.resolution import Referents, Unresolved, resolve
from tests.strategies import HOSTS, PATHS, TRAPS, mutated_urls


def meta(name: str, ns: str = "team", **annotations: str) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": annotations}


def ingress(
    rules: list[dict[str, Any]],
    tls: list[dict[str, Any]] | None = None,
    lb: list[dict[str, str]] | None = None,
    name: str = "web",
) -> dict[str, Any]:
    return {
        "metadata": meta(name),
        "spec": {"rules": rules, **({"tls": tls} if tls is not None else {})},
        "status": {"loadBalancer": {"ingress": lb or []}},
    }


def rule(host: str | None, *paths: tuple[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {} if host is None else {"host": host}
    found["http"] = {"paths": [{"path": p, "pathType": t} for p, t in paths]}
    return found


def route(
    hostnames: list[str], parents: list[dict[str, Any]], path: str | None = None
) -> dict[str, Any]:
    matches = [{"path": {"type": "PathPrefix", "value": path}}] if path else []
    return {
        "metadata": meta("route"),
        "spec": {"hostnames": hostnames, "parentRefs": parents, "rules": [{"matches": matches}]},
    }


def gateway(
    listeners: list[dict[str, Any]], addresses: tuple[str, ...] = (), name: str = "gw"
) -> dict[str, Any]:
    return {
        "metadata": meta(name, ns="infra"),
        "spec": {"listeners": listeners},
        "status": {"addresses": [{"type": "IPAddress", "value": a} for a in addresses]},
    }


def service(
    type: str = "LoadBalancer",
    ports: list[dict[str, Any]] | None = None,
    lb: list[dict[str, str]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": meta("svc", **(annotations or {})),
        "spec": {"type": type, "ports": ports if ports is not None else [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": lb or []}},
    }


def referents(*bodies: dict[str, Any], gateways: tuple[dict[str, Any], ...] = ()) -> Referents:
    def key(body: dict[str, Any]) -> tuple[str, str]:
        return (body["metadata"]["namespace"], body["metadata"]["name"])

    return Referents(
        ingresses={key(b): read_ingress(b) for b in bodies if "rules" in b["spec"]},
        httproutes={key(b): read_httproute(b) for b in bodies if "hostnames" in b["spec"]},
        services={key(b): read_service(b) for b in bodies if "type" in b["spec"]},
        gateways={key(g): read_gateway(g) for g in gateways},
    )


def url(kind: str, found: Referents, name: str | None = None, **ref: Any) -> str:
    default = {"Ingress": "web", "HTTPRoute": "route", "Service": "svc"}[kind]
    return resolve(
        TargetRef(kind=kind, name=name or default, **ref), namespace="team", referents=found
    )


def refusal(kind: str, found: Referents, **ref: Any) -> Unresolved:
    with pytest.raises(Unresolved) as raised:
        url(kind, found, **ref)
    return raised.value


# Ingress


def test_an_ingress_gives_its_first_host_over_http_and_its_rule_path() -> None:
    found = referents(
        ingress([rule("*.wild.example.com"), rule("app.example.com", ("/app", "Prefix"))])
    )
    assert url("Ingress", found) == "http://app.example.com/app"


def test_an_ingress_host_listed_in_tls_or_covered_by_a_tls_wildcard_is_https() -> None:
    listed = referents(ingress([rule("app.example.com")], tls=[{"hosts": ["app.example.com"]}]))
    assert url("Ingress", listed) == "https://app.example.com/"
    wildcard = referents(ingress([rule("app.example.com")], tls=[{"hosts": ["*.example.com"]}]))
    assert url("Ingress", wildcard) == "https://app.example.com/"
    # An Ingress wildcard stands for one label only.
    deeper = referents(ingress([rule("a.app.example.com")], tls=[{"hosts": ["*.example.com"]}]))
    assert url("Ingress", deeper) == "http://a.app.example.com/"


def test_target_ref_path_and_port_replace_the_objects_own() -> None:
    found = referents(ingress([rule("app.example.com", ("/app", "Prefix"))]))
    assert url("Ingress", found, path="/d/x?orgId=1", port=8080) == (
        "http://app.example.com:8080/d/x?orgId=1"
    )


def test_a_regex_path_is_not_taken_as_the_default_path() -> None:
    found = referents(
        ingress([rule("app.example.com", ("/api(/|$)(.*)", "ImplementationSpecific"))])
    )
    assert url("Ingress", found) == "http://app.example.com/"


def test_an_ingress_without_a_host_uses_its_load_balancer_address() -> None:
    found = referents(ingress([rule(None, ("/x", "Exact"))], lb=[{"ip": "192.0.2.7"}]))
    assert url("Ingress", found) == "http://192.0.2.7/x"
    tls = referents(
        ingress([rule(None)], tls=[{"secretName": "s"}], lb=[{"hostname": "lb.example.net"}])
    )
    assert url("Ingress", tls) == "https://lb.example.net/"


def test_an_ingress_without_host_or_address_is_unresolvable() -> None:
    refused = refusal("Ingress", referents(ingress([rule("*.example.com")])))
    assert refused.reason == Reason.TARGET_UNRESOLVABLE
    assert "no rule with a host" in refused.message


def test_an_object_that_does_not_exist_is_not_found_naming_it() -> None:
    refused = refusal("Ingress", referents(), namespace="other")
    assert refused.reason == Reason.TARGET_NOT_FOUND
    assert refused.message == "targetRef: Ingress other/web does not exist"


# HTTPRoute


PARENT = {"name": "gw", "namespace": "infra"}


def test_an_httproute_takes_scheme_and_port_from_its_gateway_listener() -> None:
    gw = gateway([{"name": "web", "protocol": "HTTPS", "port": 8443}])
    found = referents(route(["app.example.com"], [PARENT], path="/app"), gateways=(gw,))
    assert url("HTTPRoute", found) == "https://app.example.com:8443/app"


def test_an_httproute_on_http_listeners_only_is_http_and_section_name_picks_the_listener() -> None:
    listeners = [
        {"name": "plain", "protocol": "HTTP", "port": 80},
        {"name": "tls", "protocol": "HTTPS", "port": 443},
    ]
    gw = gateway(listeners)
    on_plain = referents(
        route(["a.example.com"], [{**PARENT, "sectionName": "plain"}]), gateways=(gw,)
    )
    assert url("HTTPRoute", on_plain) == "http://a.example.com/"
    on_both = referents(route(["a.example.com"], [PARENT]), gateways=(gw,))
    assert url("HTTPRoute", on_both) == "https://a.example.com/"


def test_a_listener_for_another_hostname_does_not_count() -> None:
    listeners = [
        {"name": "tls", "protocol": "HTTPS", "port": 443, "hostname": "*.other.example"},
        {"name": "plain", "protocol": "HTTP", "port": 80, "hostname": "*.example.com"},
    ]
    found = referents(route(["a.b.example.com"], [PARENT]), gateways=(gateway(listeners),))
    assert url("HTTPRoute", found) == "http://a.b.example.com/"


def test_an_httproute_whose_gateway_is_unknown_falls_back_to_https() -> None:
    found = referents(route(["app.example.com"], [PARENT]))
    assert url("HTTPRoute", found) == "https://app.example.com/"


def test_an_httproute_without_hostnames_uses_its_listener_hostname_or_gateway_address() -> None:
    named = gateway([{"name": "l", "protocol": "HTTP", "port": 80, "hostname": "gw.example.com"}])
    assert url("HTTPRoute", referents(route([], [PARENT]), gateways=(named,))) == (
        "http://gw.example.com/"
    )
    bare = gateway([{"name": "l", "protocol": "HTTP", "port": 8080}], addresses=("198.51.100.4",))
    assert url("HTTPRoute", referents(route(["*.example.com"], [PARENT]), gateways=(bare,))) == (
        "http://198.51.100.4:8080/"
    )
    refused = refusal("HTTPRoute", referents(route([], [PARENT])))
    assert refused.reason == Reason.TARGET_UNRESOLVABLE


# Service


def test_a_load_balancer_service_gives_its_address_and_port() -> None:
    found = referents(service(ports=[{"port": 8080}], lb=[{"ip": "203.0.113.9"}]))
    assert url("Service", found) == "http://203.0.113.9:8080/"


@pytest.mark.parametrize(
    "port",
    [{"port": 443}, {"port": 8443, "name": "https"}, {"port": 9000, "appProtocol": "https"}],
)
def test_a_service_port_that_is_https_gives_https(port: dict[str, Any]) -> None:
    found = referents(service(ports=[port], lb=[{"hostname": "lb.example.net"}]))
    assert url("Service", found).startswith("https://lb.example.net")


def test_a_service_with_several_ports_needs_target_ref_port_unless_one_is_web() -> None:
    ports = [{"port": 9000, "name": "grpc"}, {"port": 9100, "name": "metrics"}]
    found = referents(service(ports=ports, lb=[{"ip": "203.0.113.9"}]))
    assert "set targetRef.port" in refusal("Service", found).message
    assert url("Service", found, port=9100) == "http://203.0.113.9:9100/"
    assert "has no port 1234" in refusal("Service", found, port=1234).message
    web = referents(
        service(ports=[*ports, {"port": 8443, "name": "https"}], lb=[{"ip": "203.0.113.9"}])
    )
    assert url("Service", web) == "https://203.0.113.9:8443/"


def test_an_ipv6_load_balancer_address_is_bracketed() -> None:
    found = referents(service(lb=[{"ip": "2001:DB8:0::1"}]))
    assert url("Service", found) == "http://[2001:db8::1]/"


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "ExternalName"])
def test_a_service_without_an_outside_address_is_unresolvable_saying_what_works(kind: str) -> None:
    refused = refusal("Service", referents(service(type=kind)))
    assert refused.reason == Reason.TARGET_UNRESOLVABLE
    assert f"is of type {kind}" in refused.message
    assert "shortlink.dev/base-url" in refused.message


def test_a_load_balancer_without_an_address_yet_is_unresolvable() -> None:
    assert "no load-balancer address yet" in refusal("Service", referents(service())).message


def test_the_base_url_annotation_works_for_any_service_type_and_takes_the_path() -> None:
    annotated = service(
        type="ClusterIP", annotations={"shortlink.dev/base-url": "https://grafana.example.com/g/"}
    )
    found = referents(annotated)
    assert url("Service", found) == "https://grafana.example.com/g/"
    assert url("Service", found, path="/d/abc") == "https://grafana.example.com/g/d/abc"


# Hostile objects: whatever an object says, only what the URL judge accepts comes out.


@pytest.mark.parametrize(
    "base_url",
    [
        "javascript:alert(1)",
        "https://user@evil.example/",
        "https://evil.example\\.good.example/",
        "http://0x7f.1/",
        "https://ex\u200bample.com/",
        "https://evil.example/ ",
    ],
)
def test_a_hostile_base_url_annotation_is_unresolvable(base_url: str) -> None:
    refused = refusal(
        "Service", referents(service(annotations={"shortlink.dev/base-url": base_url}))
    )
    assert refused.reason == Reason.TARGET_UNRESOLVABLE
    assert "refused" in refused.message


@pytest.mark.parametrize(
    "host",
    [
        "good.example@evil.example",
        "evil.example/x",
        "evil.example#",
        "127.1",
        "evil.example:81",
        "ev\u202eil.example",
        "{path}.example",
    ],
)
def test_a_hostile_host_or_address_is_unresolvable(host: str) -> None:
    for found, kind in (
        (referents(ingress([rule(host)])), "Ingress"),
        (referents(ingress([rule(None)], lb=[{"hostname": host}])), "Ingress"),
        (referents(route([host], [PARENT])), "HTTPRoute"),
        (referents(service(lb=[{"hostname": host}])), "Service"),
    ):
        assert refusal(kind, found).reason == Reason.TARGET_UNRESOLVABLE, (kind, host)


def test_a_path_from_the_object_cannot_move_the_host() -> None:
    found = referents(ingress([rule("app.example.com", ("//evil.example/x", "Prefix"))]))
    assert url("Ingress", found) == "http://app.example.com//evil.example/x"


@st.composite
def trapped(draw: st.DrawFn, text: st.SearchStrategy[str]) -> str:
    value = draw(text)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(st.sampled_from(TRAPS)) + value[at:]
    return value


@given(host=trapped(HOSTS), path=trapped(PATHS), tls=st.booleans())
def test_whatever_an_ingress_says_the_link_goes_only_to_its_judged_host(
    host: str, path: str, tls: bool
) -> None:
    found = referents(
        ingress([rule(host, (path, "Prefix"))], tls=[{"hosts": [host]}] if tls else None)
    )
    try:
        sent = url("Ingress", found)
    except Unresolved as refused:
        reason = refused.reason
        sent = ""
    if not sent:
        assert reason == Reason.TARGET_UNRESOLVABLE
        return
    assert judge_target(sent) == sent  # what a spec.url would be sent as, unchanged
    parsed = ada_url.parse_url(sent, attributes=("hostname",))
    assert parsed["hostname"] == judge_host(host)


@given(base_url=mutated_urls(), path=st.sampled_from(["", "/d/x", "/a?b=c"]))
def test_a_base_url_annotation_is_sent_exactly_as_the_same_spec_url_would_be(
    base_url: str, path: str
) -> None:
    found = referents(service(type="ClusterIP", annotations={"shortlink.dev/base-url": base_url}))
    composed = base_url.rstrip("/") + path if path else base_url
    try:
        expected = judge_target(composed)
    except InvalidLink:
        assert refusal("Service", found, path=path).reason == Reason.TARGET_UNRESOLVABLE
        return
    assert url("Service", found, path=path) == expected
