"""The planner and `spec.targetRef`: a resolved link is served at its resolved URL and says so in
`status.resolvedURL`; an unresolved one keeps its slug but is not served; a reference to another
namespace needs a policy, and a refused one reveals nothing of its target."""

from typing import Any

import pytest

from shortlink_core.errors import InvalidLink
from shortlink_core.link import TargetRef, parse_link
from shortlink_core.table import decode_shard
from shortlink_operator.link_index import index_link
from shortlink_operator.planning import Plan, PlanConfig, plan
from shortlink_operator.policy import index_policy
from shortlink_operator.referents import read_ingress, read_service
from shortlink_operator.resolution import Referents

SETTINGS = PlanConfig(base_url="https://go.example.com", shard_count=4)


def link(
    name: str, ns: str = "team", created: str = "2026-01-01T00:00:00Z", **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": name,
            "creationTimestamp": created,
            "generation": 1,
        },
        "spec": spec,
    }


def ingress(name: str, host: str, ns: str = "team", tls: bool = False) -> Referents:
    spec: dict[str, Any] = {"rules": [{"host": host}]}
    if tls:
        spec["tls"] = [{"hosts": [host]}]
    body = {"metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Referents(ingresses={(ns, name): read_ingress(body)})


def run(*links: dict[str, Any], referents: Referents, **rest: Any) -> Plan:
    return plan(
        [index_link(body) for body in links],
        settings=SETTINGS,
        now=1_800_000_000,
        referents=referents,
        **rest,
    )


def served(result: Plan) -> dict[str, str]:
    return {r.slug: r.link.url for d in result.shards.values() for r in decode_shard(d).routes}


def status(result: Plan, name: str, ns: str = "team") -> dict[str, Any]:
    return result.statuses[(ns, name)]


def reason(result: Plan, name: str, ns: str = "team") -> str:
    return str(status(result, name, ns)["conditions"][0]["reason"])


def test_a_resolved_target_is_served_and_shown_in_status() -> None:
    ref = {"kind": "Ingress", "name": "web", "path": "/docs"}
    result = run(link("docs", targetRef=ref), referents=ingress("web", "app.example.com"))
    assert served(result) == {"docs": "http://app.example.com/docs"}
    assert status(result, "docs")["resolvedURL"] == "http://app.example.com/docs"
    assert reason(result, "docs") == "Published"


def test_the_link_follows_its_object() -> None:
    body = link("docs", targetRef={"kind": "Ingress", "name": "web"})
    before = run(body, referents=ingress("web", "old.example.com"))
    after = run(body, referents=ingress("web", "new.example.com"))
    assert served(before) == {"docs": "http://old.example.com/"}
    assert served(after) == {"docs": "http://new.example.com/"}


def test_utm_tags_are_added_to_the_resolved_url() -> None:
    body = link("docs", targetRef={"kind": "Ingress", "name": "web"}, utm={"source": "chat"})
    result = run(body, referents=ingress("web", "app.example.com"))
    assert served(result) == {"docs": "http://app.example.com/?utm_source=chat"}
    assert status(result, "docs")["resolvedURL"] == "http://app.example.com/"


def test_a_missing_target_is_not_served_but_keeps_its_slug() -> None:
    missing = link("docs", targetRef={"kind": "Service", "name": "gone"})
    newer = link(
        "docs-newer", created="2026-02-01T00:00:00Z", slug="docs", url="https://elsewhere.example/"
    )
    result = run(missing, newer, referents=Referents())
    assert served(result) == {}
    assert reason(result, "docs") == "TargetNotFound"
    assert "Service team/gone does not exist" in status(result, "docs")["conditions"][0]["message"]
    assert "resolvedURL" not in status(result, "docs")
    # The newer link does not take the slug while the target is away.
    assert reason(result, "docs-newer") == "SlugConflict"


def test_a_target_that_resolves_back_at_the_shortener_is_unresolvable() -> None:
    body = link("loop", targetRef={"kind": "Ingress", "name": "web"})
    result = run(body, referents=ingress("web", "go.example.com", tls=True))
    assert served(result) == {}
    assert reason(result, "loop") == "TargetUnresolvable"
    assert "points back at this shortener" in status(result, "loop")["conditions"][0]["message"]


def test_a_service_without_an_outside_address_is_unresolvable() -> None:
    body = {"metadata": {"name": "db", "namespace": "team"}, "spec": {"type": "ClusterIP"}}
    referents = Referents(services={("team", "db"): read_service(body)})
    result = run(link("db", targetRef={"kind": "Service", "name": "db"}), referents=referents)
    assert reason(result, "db") == "TargetUnresolvable"


CROSS = {"kind": "Ingress", "name": "web", "namespace": "private"}


def test_a_reference_to_another_namespace_is_refused_without_a_policy_and_reveals_nothing() -> None:
    result = run(
        link("peek", ns="team", targetRef=CROSS),
        referents=ingress("web", "secret.internal", ns="private"),
    )
    assert served(result) == {}
    assert reason(result, "peek") == "PolicyViolation"
    message = status(result, "peek")["conditions"][0]["message"]
    assert "allowedTargetNamespaces" in message
    assert "secret.internal" not in str(status(result, "peek"))


@pytest.mark.parametrize(
    ("allowed", "expected"), [(["private"], "Published"), (["elsewhere"], "PolicyViolation")]
)
def test_a_policy_selecting_the_namespace_may_allow_the_target_namespace(
    allowed: list[str], expected: str
) -> None:
    policy = index_policy(
        {
            "metadata": {"name": "team"},
            "spec": {
                "namespaces": ["team"],
                "allowedSlugPrefixes": [""],
                "allowedTargetNamespaces": allowed,
            },
        }
    )
    result = run(
        link("peek", ns="team", targetRef=CROSS),
        referents=ingress("web", "app.example.com", ns="private"),
        policies=[policy],
    )
    assert reason(result, "peek") == expected


def test_a_policy_for_other_namespaces_allows_nothing_here() -> None:
    policy = index_policy(
        {
            "metadata": {"name": "other"},
            "spec": {
                "namespaces": ["other"],
                "allowedSlugPrefixes": [""],
                "allowedTargetNamespaces": ["private"],
            },
        }
    )
    result = run(
        link("peek", ns="team", targetRef=CROSS),
        referents=ingress("web", "app.example.com", ns="private"),
        policies=[policy],
    )
    assert reason(result, "peek") == "PolicyViolation"


def test_naming_the_own_namespace_explicitly_needs_no_policy() -> None:
    ref = {**CROSS, "namespace": "team"}
    result = run(link("own", ns="team", targetRef=ref), referents=ingress("web", "app.example.com"))
    assert reason(result, "own") == "Published"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"url": "https://e.com/", "targetRef": {"kind": "Service", "name": "s"}}, "not both"),
        ({"targetRef": {"kind": "Pod", "name": "s"}}, "kind must be one of"),
        ({"targetRef": {"kind": "Service", "name": "S_1"}}, "name must be"),
        ({"targetRef": {"kind": "Service", "name": "s", "namespace": "a.b"}}, "namespace"),
        ({"targetRef": {"kind": "Service", "name": "s", "path": "x"}}, "must start with '/'"),
        ({"targetRef": {"kind": "Service", "name": "s", "port": 0}}, "port"),
        ({"targetRef": "svc"}, "must be an object"),
    ],
)
def test_a_bad_target_ref_is_an_invalid_spec(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(spec, name="x")


def test_a_target_ref_parses_into_the_link() -> None:
    parsed = parse_link({"targetRef": {"kind": "HTTPRoute", "name": "r", "port": 8080}}, name="x")
    assert parsed.target == TargetRef(kind="HTTPRoute", name="r", port=8080)
    assert parsed.url == ""
    assert parsed.destinations == ()
