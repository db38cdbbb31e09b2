"""The ShortLink API as the API server serves it: validation at apply time, defaults, kubectl views.

Apart from the printer columns, no operator is needed: these are the answers a GitOps sync gets
from the API server itself.
"""

import json

import pytest

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, shortlink


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"url": "javascript:alert(1)"}, "url must be an absolute http:// or https:// URL"),
        ({"url": "data:text/html,<b>hi</b>"}, "other schemes such as javascript:, data: or file:"),
        ({"url": "file:///etc/passwd"}, "url must be an absolute http:// or https:// URL"),
        ({"url": "https://admin:secret@example.com/"}, "url must not contain credentials"),
        ({"url": "https://example.com/a b"}, "url must not contain whitespace, control"),
        ({"url": "https://ex\u200bample.com/"}, "invisible formatting characters"),
        ({"url": "https://\u202eexample.com/"}, "invisible formatting characters"),
        ({"url": "https://example.com/\u00a0"}, "invisible formatting characters"),
        ({"url": "https://example.com\\.evil.com/"}, "url must not contain a backslash"),
        ({"url": "https://evil.com%00.example.com/"}, "must not contain percent-encoded"),
        ({"url": "https://ex%C3%A4mple.com/"}, "must not contain percent-encoded"),
        ({"url": "http://0x7f.1/"}, "an IPv4 address must be written as four decimal numbers"),
        ({"url": "http://2130706433/"}, "an IPv4 address must be written as four decimal"),
        ({"url": "http://127.1:8080/"}, "an IPv4 address must be written as four decimal"),
        ({"url": "http://0177.0.0.1/"}, "an IPv4 address must be written as four decimal"),
        (
            {"url": "https://e.com/", "rules": [{"url": "https://e.com\\@evil.com/"}]},
            "spec.rules[0].url: Invalid value",
        ),
        (
            {
                "url": "https://e.com/",
                "expiresAt": "2030-01-01T00:00:00Z",
                "expiredURL": "https://ex%41mple.com/",
            },
            "expiredURL must be an absolute http:// or https:// URL without credentials",
        ),
        ({"url": "https:///path-only"}, "url must have a host"),
        ({"url": "https://example.com/" + "a" * 2048}, "spec.url: Too long"),
        ({"url": "https://example.com/", "slug": "Team-Docs"}, "slug may contain only lowercase"),
        ({"url": "https://example.com/", "slug": "x" * 101}, "spec.slug: Too long"),
        (
            {"url": "https://example.com/", "slug": "readyz"},
            "slug must not match a reserved word",
        ),
        # Requests match ignoring case and separators, so every spelling is reserved too.
        *(
            ({"url": "https://example.com/", "slug": slug}, "slug must not match a reserved word")
            for slug in ("health-z", "live.z", "met_rics", "robots-txt", "well-known", "a.p.i")
        ),
        ({"url": "https://example.com/", "redirectCode": 303}, 'supported values: "301", "302"'),
        (
            {"url": "https://example.com/", "owner": "a\nb"},
            "owner must be one line of text without control characters",
        ),
        ({"url": "https://example.com/", "owner": "x" * 201}, "spec.owner: Too long"),
        ({"url": "https://example.com/", "listed": "yes"}, "spec.listed: Invalid value"),
        ({"slug": "no-url"}, "set exactly one of url and targetRef"),
        (
            {"url": "https://e.com/", "targetRef": {"kind": "Service", "name": "web"}},
            "set exactly one of url and targetRef",
        ),
        ({"targetRef": {"kind": "Pod", "name": "web"}}, 'supported values: "Ingress"'),
        ({"targetRef": {"kind": "Service"}}, "spec.targetRef.name: Required value"),
        ({"targetRef": {"kind": "Service", "name": "Web_1"}}, "targetRef.name must be the name"),
        (
            {"targetRef": {"kind": "Service", "name": "web", "namespace": "a.b"}},
            "targetRef.namespace must be the name of a namespace",
        ),
        (
            {"targetRef": {"kind": "Ingress", "name": "web", "path": "docs"}},
            "targetRef.path must start with '/'",
        ),
        (
            {"targetRef": {"kind": "Service", "name": "web", "port": 70000}},
            "spec.targetRef.port: Invalid value",
        ),
    ],
)
def test_invalid_links_fail_at_apply_time_with_a_readable_message(
    cluster: Cluster, spec: dict[str, object], message: str
) -> None:
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "bad"},
        "spec": spec,
    }
    result = cluster.apply(json.dumps(body), check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "bad" not in cluster.kubectl("get", "shortlinks", "-o", "name").stdout


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "http://192.0.2.1:8080/x",
        "https://[2001:db8::1]/",
        "https://faß.de/straße?q=ä#x",
        "https://example.com/{path}?q={query}",
        "https://example.123.com/",
        "https://example.com/%5C",
    ],
)
def test_the_crd_lets_good_targets_through(cluster: Cluster, url: str) -> None:
    result = cluster.apply(shortlink("good", url), check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "target",
    [
        {"kind": "Ingress", "name": "web"},
        {"kind": "HTTPRoute", "name": "grafana.route", "namespace": "infra", "path": "/d?x=1"},
        {"kind": "Service", "name": "lb", "port": 8443},
    ],
)
def test_the_crd_lets_a_target_ref_through(cluster: Cluster, target: dict[str, object]) -> None:
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "by-ref"},
        "spec": {"targetRef": target},
    }
    result = cluster.apply(json.dumps(body), check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["healthz", "ready-z", "favicon.ico", "favicon-ico"])
def test_a_reserved_object_name_without_a_slug_is_refused(cluster: Cluster, name: str) -> None:
    result = cluster.apply(shortlink(name, "https://example.com/"), check=False)
    assert result.returncode != 0
    assert "metadata.name is used as the slug when spec.slug is not set" in result.stderr


def test_names_near_a_reserved_word_are_accepted(cluster: Cluster) -> None:
    for name in ("health", "apis", "ready-zone"):
        cluster.apply(shortlink(name, "https://example.com/"))


def test_redirect_code_defaults_to_302(cluster: Cluster) -> None:
    cluster.apply(shortlink("plain", "https://example.com/"))
    assert cluster.get("shortlink", "plain")["spec"]["redirectCode"] == 302


def test_kubectl_get_sl_shows_slug_url_code_ready_visits_and_age(
    cluster: Cluster, stack: Stack
) -> None:
    cluster.apply(
        shortlink(
            "shown",
            "https://example.com/shown",
            slug=f"shown-{cluster.namespace}",
            redirectCode=301,
        )
    )
    cluster.wait_reason("shown", "Published")
    for resource in ("sl", "shortlinks", "shortlink.shortlink.dev"):
        header, row = cluster.kubectl("get", resource).stdout.splitlines()[:2]
        assert header.split() == ["NAME", "SLUG", "URL", "CODE", "READY", "REASON", "VISITS", "AGE"]
        assert row.split()[:6] == [
            "shown",
            f"shown-{cluster.namespace}",
            "https://example.com/shown",
            "301",
            "True",
            "Published",
        ]
        # Empty: no visits are written by an operator without --prometheus-url.
        visits = header.index("VISITS")
        assert row[visits : header.index("AGE")].strip() == ""


def test_the_category_lists_shortlinks(cluster: Cluster) -> None:
    cluster.apply(shortlink("categorised", "https://example.com/"))
    names = cluster.kubectl("get", "shortlink", "-o", "name").stdout.split()
    assert "shortlink.shortlink.dev/categorised" in names
    resources = cluster.kubectl(
        "api-resources", "--categories=shortlink", "-o", "name", namespace=None
    )
    assert resources.stdout.split() == ["shortlinks.shortlink.dev"]


def test_kubectl_explain_documents_every_spec_field(cluster: Cluster) -> None:
    # The API server publishes a new CRD's OpenAPI schema a moment after it is Established.
    def explain() -> str:
        result = cluster.kubectl("explain", "shortlink.spec", namespace=None, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    explained = eventually(explain, timeout=60)
    fields = (
        "url",
        "slug",
        "redirectCode",
        "generateSlug",
        "description",
        "aliases",
        "host",
        "match",
        "pathSuffix",
        "forwardQuery",
        "utm",
        "activeFrom",
        "expiresAt",
        "expiredURL",
        "suspended",
        "owner",
        "listed",
        "rules",
        "targetRef",
    )
    for field in fields:
        assert f"\n  {field}\t" in explained
    assert "Defaults to" in explained


def test_links_can_be_selected_by_slug_and_host(cluster: Cluster) -> None:
    cluster.apply(shortlink("one", "https://example.com/1", slug="docs", host="go.example.com"))
    cluster.apply(shortlink("two", "https://example.com/2", slug="wiki", host="go.example.com"))
    cluster.apply(shortlink("docs", "https://example.com/3"))  # slug from the name: not in spec

    def selected(selector: str) -> list[str]:
        got = cluster.kubectl("get", "sl", "--field-selector", selector, "-o", "name")
        return sorted(got.stdout.split())

    assert selected("spec.slug=docs") == ["shortlink.shortlink.dev/one"]
    assert selected("spec.host=go.example.com") == [
        "shortlink.shortlink.dev/one",
        "shortlink.shortlink.dev/two",
    ]
    assert selected("spec.host=go.example.com,spec.slug!=docs") == ["shortlink.shortlink.dev/two"]
