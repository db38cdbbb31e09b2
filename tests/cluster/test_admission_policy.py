"""The ValidatingAdmissionPolicy: ShortLinkPolicy enforced by the API server at apply time.

The policy file the chart ships (charts/shortlink/files/admission/) is applied as it is to the real
kube-apiserver; each test selects only namespaces of its own and deletes its policies, because
ShortLinkPolicies are cluster-scoped.
"""

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shortlink_localcluster.controlplane import ControlPlane
from tests.chart.render import CHART
from tests.cluster.helpers import Cluster, eventually, shortlink

POLICY_FILE = CHART / "files" / "admission" / "shortlink-policy.yaml"
ENFORCE = {"shortlink.dev/enforce-at-apply": "true"}


@pytest.fixture
def admission(cluster: Cluster) -> Iterator[list[str]]:
    """The admission policy installed; yields a list the test appends its policies' names to."""
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=shortlink-tests",
        "-f", str(POLICY_FILE), namespace=None,
    )  # fmt: skip
    created: list[str] = []
    yield created
    for name in created:
        cluster.kubectl("delete", "shortlinkpolicy", name, "--ignore-not-found", namespace=None)


def policy(
    cluster: Cluster, created: list[str], spec: dict[str, Any], *, enforce: bool = True
) -> str:
    name = f"p-{secrets.token_hex(4)}"
    metadata: dict[str, Any] = {"name": name, "labels": ENFORCE if enforce else {}}
    body = {"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLinkPolicy"}
    cluster.apply(json.dumps(body | {"metadata": metadata, "spec": spec}), namespace="default")
    created.append(name)
    return name


def labelled_namespace(cluster: Cluster, **labels: str) -> str:
    namespace = cluster.new_namespace()
    pairs = [f"{key}={value}" for key, value in labels.items()]
    cluster.kubectl("label", "namespace", namespace, *pairs, namespace=None)
    return namespace


def dry_run(cluster: Cluster, manifest: str, namespace: str) -> tuple[int, str]:
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=manifest, namespace=namespace, check=False
    )
    return result.returncode, result.stderr


def refused(cluster: Cluster, manifest: str, namespace: str) -> str:
    """Wait until the API server refuses `manifest` (the policy's param informer catches up)."""

    def check() -> str:
        code, stderr = dry_run(cluster, manifest, namespace)
        assert code != 0, "still accepted"
        return stderr

    return eventually(check, timeout=20, interval=0.2)


def accepted(cluster: Cluster, manifest: str, namespace: str) -> None:
    def check() -> None:
        code, stderr = dry_run(cluster, manifest, namespace)
        assert code == 0, stderr

    eventually(check, timeout=20, interval=0.2)


def test_slugs_outside_the_allowed_prefixes_are_refused(
    cluster: Cluster, admission: list[str]
) -> None:
    team = secrets.token_hex(3)
    namespace = labelled_namespace(cluster, team=team)
    name = policy(
        cluster, admission, {"namespaceSelector": {"matchLabels": {"team": team}},
                             "allowedSlugPrefixes": ["team-a-"]},
    )  # fmt: skip
    message = refused(cluster, shortlink("x", "https://example.com/", slug="docs"), namespace)
    assert message == (
        'Error from server (Forbidden): error when creating "STDIN": shortlinks.shortlink.dev "x" '
        "is forbidden: ValidatingAdmissionPolicy 'shortlink-policy' with binding "
        "'shortlink-policy' denied request: slug docs is not allowed in namespace "
        f"{namespace} by ShortLinkPolicy {name}: slugs there must start with team-a-\n"
    )
    for manifest in (
        shortlink("x", "https://example.com/", slug="team-a-docs", aliases=["docs"]),
        shortlink("docs", "https://example.com/"),  # the name is the slug
    ):
        assert dry_run(cluster, manifest, namespace)[0] != 0
    for manifest in (
        shortlink("x", "https://example.com/", slug="team-a-docs", aliases=["team-a-d"]),
        shortlink("x", "https://example.com/", generateSlug=True),  # a code needs no prefix
    ):
        assert dry_run(cluster, manifest, namespace) == (0, "")


def test_an_update_to_a_forbidden_slug_is_refused(cluster: Cluster, admission: list[str]) -> None:
    namespace = cluster.new_namespace()
    policy(cluster, admission, {"namespaces": [namespace], "allowedSlugPrefixes": ["ok-"]})
    refused(cluster, shortlink("x", "https://example.com/", slug="no"), namespace)
    cluster.apply(shortlink("x", "https://example.com/", slug="ok-x"), namespace=namespace)
    result = cluster.apply(
        shortlink("x", "https://example.com/", slug="bad"), namespace=namespace, check=False
    )
    assert result.returncode != 0
    assert "slug bad is not allowed" in result.stderr


def test_hosts_outside_the_allowed_hosts_are_refused(
    cluster: Cluster, admission: list[str]
) -> None:
    namespace = cluster.new_namespace()
    spec = {"namespaces": [namespace], "allowedSlugPrefixes": [""], "allowedHosts": ["go.a.com"]}
    name = policy(cluster, admission, spec)
    manifest = shortlink("x", "https://example.com/", host="go.b.com")
    message = refused(cluster, manifest, namespace)
    assert f"host go.b.com is not allowed in namespace {namespace} by ShortLinkPolicy {name}" in (
        message
    )
    assert (
        dry_run(cluster, shortlink("x", "https://example.com/", host="go.a.com"), namespace)[0] == 0
    )
    assert dry_run(cluster, shortlink("x", "https://example.com/"), namespace)[0] == 0


def test_match_expressions_select_namespaces_as_the_operator_does(
    cluster: Cluster, admission: list[str]
) -> None:
    tier = secrets.token_hex(3)
    selected = labelled_namespace(cluster, tier=tier)
    spared = labelled_namespace(cluster, tier=f"{tier}x")
    selector = {"matchExpressions": [{"key": "tier", "operator": "In", "values": [tier]}]}
    policy(cluster, admission, {"namespaceSelector": selector, "allowedSlugPrefixes": ["p-"]})
    manifest = shortlink("x", "https://example.com/", slug="free")
    refused(cluster, manifest, selected)
    assert dry_run(cluster, manifest, spared) == (0, "")


def test_without_enforced_policies_nothing_is_refused(
    cluster: Cluster, admission: list[str]
) -> None:
    """No labelled policy at all: parameterNotFoundAction Allow. Unlabelled policies are left to
    the operator (Ready=False, PolicyViolation), which grants the union of selecting policies."""
    namespace = cluster.new_namespace()
    name = policy(cluster, admission, {"namespaces": [namespace], "allowedSlugPrefixes": ["ok-"]})
    manifest = shortlink("x", "https://example.com/", slug="other")
    refused(cluster, manifest, namespace)
    cluster.kubectl("delete", "shortlinkpolicy", name, namespace=None)
    accepted(cluster, manifest, namespace)  # no labelled policy is left
    policy(
        cluster, admission, {"namespaces": [namespace], "allowedSlugPrefixes": ["ok-"]},
        enforce=False,
    )  # fmt: skip
    assert dry_run(cluster, manifest, namespace) == (0, "")


def test_a_target_ref_into_a_namespace_the_policy_does_not_list_is_refused(
    cluster: Cluster, admission: list[str]
) -> None:
    namespace = cluster.new_namespace()
    spec = {
        "namespaces": [namespace],
        "allowedSlugPrefixes": [""],
        "allowedTargetNamespaces": ["platform"],
    }
    name = policy(cluster, admission, spec)

    def by_ref(target_namespace: str) -> str:
        target = {"kind": "Service", "name": "web", "namespace": target_namespace}
        body = {"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLink"}
        return json.dumps(body | {"metadata": {"name": "x"}, "spec": {"targetRef": target}})

    message = refused(cluster, by_ref("private"), namespace)
    assert (
        f"targetRef names an object in namespace private, which ShortLinkPolicy {name} does not "
        "list in allowedTargetNamespaces"
    ) in message
    accepted(cluster, by_ref("platform"), namespace)
    accepted(cluster, by_ref(namespace), namespace)  # its own namespace, named explicitly


def eventually_applied(cluster: Cluster, manifest: str) -> subprocess.CompletedProcess[str]:
    """`kubectl apply`, retried while the restarted API server is still starting its storage."""
    result = cluster.apply(manifest, check=False)
    for _ in range(20):
        if result.returncode == 0 or "ValidatingAdmissionPolicy" in result.stderr:
            return result
        time.sleep(0.5)
        result = cluster.apply(manifest, check=False)
    return result


# Last in the module: after the restart the policy fails open for minutes (see its docstring).
@pytest.mark.local_control_plane("it restarts the API server")
def test_after_an_api_server_restart_the_policy_never_refuses_every_link(
    cluster: Cluster, admission: list[str], control_plane: ControlPlane
) -> None:
    """A freshly started API server may not resolve the policy's parameter kind (the
    ShortLinkPolicy CRD) for minutes. Failing closed would refuse every ShortLink in the cluster
    and halt every GitOps sync; the policy fails open instead, and the operator still judges each
    link against the policies (`PolicyViolation`)."""
    control_plane.stop_apiserver()
    control_plane.start_apiserver()
    result = eventually_applied(cluster, shortlink("after-restart", "https://example.com/"))
    assert result.returncode == 0, result.stderr
