"""Every ShortLink field through the real API server, operator and redirector.

The component tier proves each redirect rule in isolation; here real manifests using every field
are applied with kubectl, and the real redirector is followed over a socket.
"""

import json
import time
from typing import Any

import httpx
import pytest

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, follow, served, shortlink

MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def get(stack: Stack, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{stack.base_url}{path}", headers=headers, follow_redirects=False, timeout=5)


def test_a_link_using_every_routing_field(cluster: Cluster, stack: Stack, unique: str) -> None:
    slug = f"kitchen-{unique}"
    cluster.apply(
        shortlink(
            slug,
            "https://example.com/docs",
            redirectCode=307,
            description="Everything a link can do",
            aliases=[f"sink-{unique}"],
            pathSuffix="Append",
            forwardQuery=True,
            utm={"source": "golink", "medium": "chat"},
            expiresAt="2100-01-01T00:00:00Z",
            expiredURL="https://example.com/archive",
            rules=[
                {"when": {"devices": ["Mobile"]}, "url": "https://m.example.com/"},
                {"when": {"languages": ["de"]}, "url": "https://example.de/"},
                {"when": {"countries": ["FR"]}, "url": "https://example.fr/"},
                {
                    "when": {"header": {"name": "X-Beta", "values": ["1"]}},
                    "url": "https://beta.example.com/",
                },
                {
                    "when": {"query": {"name": "v", "values": ["2"]}},
                    "url": "https://v2.example.com/",
                },
                {"when": {"before": "2020-01-01T00:00:00Z"}, "url": "https://never.example.com/"},
                {
                    "when": {"header": {"name": "X-Split", "values": ["yes"]}},
                    "split": [
                        {"weight": 1, "url": "https://a.example.com/"},
                        {"weight": 1, "url": "https://b.example.com/"},
                    ],
                },
            ],
        )
    )
    tags = "utm_source=golink&utm_medium=chat"
    served(stack, slug, f"https://example.com/docs?{tags}", code=307)
    cluster.wait_reason(slug, "Published")
    assert cluster.get("shortlink", slug)["status"]["aliases"] == [f"sink-{unique}"]

    def where(path: str, **headers: str) -> str | None:
        response = get(stack, path, **headers)
        assert response.status_code == 307, (path, response.status_code)
        return response.headers["location"]

    assert where(f"/sink-{unique}") == f"https://example.com/docs?{tags}"
    assert (
        where(f"/{slug.upper()}/setup/linux?page=2")
        == f"https://example.com/docs/setup/linux?{tags}&page=2"
    )
    assert where(f"/{slug}", **{"user-agent": MOBILE}) == f"https://m.example.com/?{tags}"
    assert where(f"/{slug}", **{"accept-language": "de-CH"}) == f"https://example.de/?{tags}"
    assert where(f"/{slug}", **{"cf-ipcountry": "fr"}) == f"https://example.fr/?{tags}"
    assert where(f"/{slug}", **{"x-beta": "1"}) == f"https://beta.example.com/?{tags}"
    assert where(f"/{slug}?v=2") == f"https://v2.example.com/?{tags}&v=2"
    arms = {where(f"/{slug}", **{"x-split": "yes", "user-agent": f"ua-{i}"}) for i in range(40)}
    assert arms == {f"https://a.example.com/?{tags}", f"https://b.example.com/?{tags}"}

    inspect = get(stack, f"/{slug}+", accept="application/json").json()
    assert inspect["description"] == "Everything a link can do"
    assert inspect["namespace"] == cluster.namespace
    assert inspect["expiresAt"] == "2100-01-01T00:00:00Z"
    assert inspect["shortURL"] == cluster.get("shortlink", slug)["status"]["shortURL"]
    assert len(inspect["rules"]) == 7
    assert get(stack, f"/{slug}+qr.png").content.startswith(b"\x89PNG")
    assert "Rules" in cluster.kubectl("describe", "shortlink", slug).stdout


def test_links_on_hosts_and_exact_matching(cluster: Cluster, stack: Stack, unique: str) -> None:
    slug = f"hosted-{unique}"
    cluster.apply(shortlink(f"{slug}-go", "https://go.example/", slug=slug, host="go.example.com"))
    cluster.apply(shortlink(f"{slug}-any", "https://any.example/", slug=slug, match="Exact"))
    cluster.wait_reason(f"{slug}-go", "Published")
    cluster.wait_reason(f"{slug}-any", "Published")
    status = cluster.get("shortlink", f"{slug}-go")["status"]
    assert status["shortURL"] == f"http://go.example.com/{slug}"
    assert (
        get(stack, f"/{slug}", host="go.example.com").headers["location"] == "https://go.example/"
    )
    assert (
        get(stack, f"/{slug}", host="other.example.com").headers["location"]
        == "https://any.example/"
    )
    assert get(stack, f"/{slug.upper()}", host="other.example.com").status_code == 404  # exact


def test_a_generated_slug_is_served_and_shown_in_status(cluster: Cluster, stack: Stack) -> None:
    cluster.apply(shortlink("generated", "https://example.com/generated", generateSlug=True))
    cluster.wait_reason("generated", "Published")
    status = cluster.get("shortlink", "generated")["status"]
    code = status["slug"]
    assert len(code) == 7
    assert not set(code) & set("01ilo")
    assert status["shortURL"] == f"{stack.base_url}/{code}"
    served(stack, code, "https://example.com/generated")


def test_suspending_stops_serving_and_resuming_restores_the_same_slug(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"paused-{unique}"
    cluster.apply(shortlink(slug, "https://example.com/p"))
    served(stack, slug, "https://example.com/p")
    cluster.apply(shortlink(slug, "https://example.com/p", suspended=True))
    cluster.wait_reason(slug, "Suspended")
    eventually(lambda: _assert_status(stack, slug, 404))
    cluster.apply(shortlink(slug, "https://example.com/p", suspended=False))
    cluster.wait_reason(slug, "Published")
    served(stack, slug, "https://example.com/p")


def test_an_expired_link_is_gone_or_sends_visitors_on(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(
        shortlink(f"over-{unique}", "https://example.com/", expiresAt="2020-01-01T00:00:00Z")
    )
    cluster.apply(
        shortlink(
            f"moved-{unique}",
            "https://example.com/",
            expiresAt="2020-01-01T00:00:00Z",
            expiredURL="https://example.com/archive",
        )
    )
    condition = cluster.wait_reason(f"over-{unique}", "Expired")
    assert "410 Gone" in condition["message"]
    eventually(lambda: _assert_status(stack, f"over-{unique}", 410))
    served(stack, f"moved-{unique}", "https://example.com/archive")


def test_a_scheduled_link_starts_on_time_and_its_status_follows(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"launch-{unique}"
    start = time.time() + 4
    cluster.apply(
        shortlink(
            slug,
            "https://example.com/launch",
            activeFrom=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        )
    )
    cluster.wait_reason(slug, "Scheduled")
    assert follow(stack, slug)[0] == 404
    served(stack, slug, "https://example.com/launch", timeout=15)
    assert time.time() >= int(start)  # the redirector did not serve it early
    cluster.wait_reason(slug, "Published", timeout=15)  # the operator woke up for it by itself


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"slug": "x", "generateSlug": True}, "set either slug or generateSlug, not both"),
        ({"expiredURL": "https://example.com/"}, "expiredURL needs expiresAt"),
        (
            {"activeFrom": "2030-01-02T00:00:00Z", "expiresAt": "2030-01-01T00:00:00Z"},
            "expiresAt must be later than activeFrom",
        ),
        (
            {"rules": [{"url": "https://a.example/", "split": [{"url": "https://b.example/"}]}]},
            "each rule needs exactly one of url or split",
        ),
        (
            {"rules": [{"split": [{"weight": 0, "url": "https://b.example/"}]}]},
            "at least one arm with a positive weight",
        ),
        ({"rules": [{"url": "javascript:alert(1)"}]}, "spec.rules[0].url in body should match"),
        (
            {"rules": [{"url": "https://a.example/", "when": {"devices": ["Phone"]}}]},
            'supported values: "Mobile"',
        ),
        ({"host": "Go.Example.com:8080"}, "host must be a lowercase DNS name"),
        ({"aliases": ["readyz"]}, "aliases must not match reserved words"),
        ({"aliases": ["ready_z"]}, "aliases must not match reserved words"),
        ({"aliases": ["Bad Alias"]}, "aliases may contain only lowercase letters"),
        ({"match": "Fuzzy"}, 'supported values: "Insensitive", "Exact"'),
        ({"pathSuffix": "Keep"}, 'supported values: "Append", "Ignore", "Reject"'),
        ({"expiresAt": "next tuesday"}, "spec.expiresAt"),
    ],
)
def test_invalid_combinations_fail_at_apply_time(
    cluster: Cluster, spec: dict[str, Any], message: str
) -> None:
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "bad"},
    }
    body["spec"] = {"url": "https://example.com/", **spec}
    result = cluster.apply(json.dumps(body), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def _assert_status(stack: Stack, slug: str, status: int) -> None:
    assert follow(stack, slug)[0] == status


def test_pages_show_listed_links_whom_to_ask_and_the_last_change(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    shown, hidden, paused = f"shown-{unique}", f"hidden-{unique}", f"stopped-{unique}"
    cluster.apply(
        shortlink(shown, "https://example.com/s", listed=True, owner="#team-x", description="S")
    )
    cluster.apply(shortlink(hidden, "https://example.com/h"))
    cluster.apply(
        shortlink(paused, "https://example.com/p", suspended=True, owner="#team-y", description="P")
    )
    served(stack, shown, "https://example.com/s")
    served(stack, hidden, "https://example.com/h")
    cluster.wait_reason(paused, "Suspended")

    def front_page() -> list[str]:
        data = get(stack, "/", accept="application/json").json()
        return [entry["slug"] for entry in data["results"]]

    eventually(lambda: _assert(shown in front_page()))
    assert hidden not in front_page()
    facts = get(stack, f"/{shown}+", accept="application/json").json()
    assert (facts["owner"], facts["listed"], facts["state"]) == ("#team-x", True, "Active")
    # The last change is kubectl's apply, as the object's managedFields record it.
    shown_object = cluster.kubectl(
        "get", "shortlink", shown, "-o", "json", "--show-managed-fields"
    ).stdout
    fields = json.loads(shown_object)["metadata"]["managedFields"]
    applied = max(f["time"] for f in fields if not f.get("subresource"))
    assert facts["changed"] == applied

    def suspended_page() -> None:
        page = get(stack, f"/{paused}", accept="text/html")
        assert page.status_code == 404
        assert "is suspended" in page.text
        assert "#team-y" in page.text

    eventually(suspended_page)
    assert get(stack, f"/{paused}").status_code == 404


def test_a_policy_lists_its_namespaces_links_unless_a_link_says_otherwise(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    namespace = cluster.new_namespace()
    policy = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": f"golinks-{unique}"},
        "spec": {"namespaces": [namespace], "allowedSlugPrefixes": [""], "listLinks": True},
    }
    cluster.apply(json.dumps(policy))
    try:
        cluster.apply(shortlink(f"go-{unique}", "https://example.com/go"), namespace=namespace)
        cluster.apply(
            shortlink(f"private-{unique}", "https://example.com/p", listed=False),
            namespace=namespace,
        )
        served(stack, f"private-{unique}", "https://example.com/p")

        def listed() -> list[str]:
            data = get(stack, "/", accept="application/json").json()
            return [entry["slug"] for entry in data["results"]]

        eventually(lambda: _assert(f"go-{unique}" in listed()))
        assert f"private-{unique}" not in listed()
    finally:
        cluster.kubectl("delete", "shortlinkpolicy", f"golinks-{unique}", namespace=None)


def _assert(condition: bool) -> None:
    assert condition
