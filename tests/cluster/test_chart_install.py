"""The Helm chart on the real API server: every object validated, Pod Security "restricted", and
RBAC proven by running the operator and the redirector as the chart's ServiceAccounts.

The chart is rendered with `helm template` (tests/chart/render.py) and applied with kubectl:
first as a server-side dry run, then for real. There is no kubelet, so pods never run; the
operator and the redirector run as local processes holding the ServiceAccounts' tokens.
"""

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack, kubectl
from shortlink_localcluster.tools import CRD_MODULE, default_cache_dir, third_party_crds
from tests.chart.render import EVERY_SWITCH, chart_copy, pod_templates, render
from tests.cluster.helpers import Cluster, not_served, served, shortlink

FIELD_MANAGER = "shortlink-chart-test"


OPTIONAL_KINDS = ("HTTPRoute", "ServiceMonitor", "PrometheusRule")


@pytest.fixture(scope="module")
def optional_kind_crds(control_plane: ControlPlane) -> None:
    """HTTPRoute, ServiceMonitor and PrometheusRule CRDs, generated from their Go types."""
    for path in third_party_crds(default_cache_dir()):
        kubectl(
            control_plane,
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "-f",
            str(path),
        )
    kubectl(
        control_plane,
        "wait",
        "--for=condition=Established",
        "--timeout=150s",  # as install_crds: a busy machine has taken longer than 30 s
        "crd/httproutes.gateway.networking.k8s.io",
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
        timeout=180,
    )


def restricted_namespace(cluster: Cluster) -> str:
    """A namespace where the API server enforces Pod Security "restricted"."""
    namespace = cluster.new_namespace()
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
        namespace=None,
    )
    return namespace


def apply(cluster: Cluster, objects: list[dict[str, Any]], *, dry_run: bool) -> str:
    manifest = "\n---\n".join(json.dumps(obj) for obj in objects)
    args = ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]
    if dry_run:
        args.append("--dry-run=server")
    return cluster.kubectl(*args, "-f", "-", stdin=manifest, namespace=None).stdout


def install(
    cluster: Cluster, tmp_path: Path, values: dict[str, Any], namespace: str
) -> list[dict[str, Any]]:
    """Render the chart into `namespace` and apply it: a server-side dry run, then for real. Like
    `helm install`, leave out the hooks (the `helm test` pod); return every object rendered."""
    release = f"sl-{secrets.token_hex(3)}"  # cluster-scoped RBAC names must not collide
    objects = render(chart_copy(tmp_path), values, release=release, namespace=namespace)
    installed = [obj for obj in objects if not is_hook(obj)]
    # The release's own cluster-scoped objects (its ClusterRole and binding, named after it) go
    # with the test on an external cluster; the shared ones (CRDs, the aggregated roles, the
    # admission policy) are the cluster's as much as this test's, and stay.
    cluster.cluster_scoped += [
        f"{resource(obj)}/{obj['metadata']['name']}"
        for obj in installed
        if "namespace" not in obj["metadata"] and obj["metadata"]["name"].startswith(release)
    ]
    apply(cluster, installed, dry_run=True)
    apply(cluster, installed, dry_run=False)
    return objects


def resource(obj: dict[str, Any]) -> str:
    """What kubectl calls `obj`'s kind: `kind.group`, or only `kind` in the core group."""
    kind: str = obj["kind"].lower()
    if "/" not in obj["apiVersion"]:
        return kind
    return f"{kind}.{obj['apiVersion'].split('/')[0]}"


def is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in obj["metadata"].get("annotations", {})


def test_every_object_with_every_switch_is_accepted_by_the_api_server(
    cluster: Cluster, tmp_path: Path, optional_kind_crds: None
) -> None:
    namespace = restricted_namespace(cluster)
    objects = install(cluster, tmp_path, EVERY_SWITCH, namespace)
    for obj in [obj for obj in objects if not is_hook(obj)]:
        scope = ("-n", namespace) if "namespace" in obj["metadata"] else ()
        got = cluster.kubectl(
            "get", resource(obj), obj["metadata"]["name"], *scope, "-o", "json", namespace=None
        )
        assert json.loads(got.stdout)["metadata"]["name"] == obj["metadata"]["name"]


def test_optional_kind_crds_are_generated_from_the_pinned_go_types() -> None:
    """Exactly the three kinds, generated into the cache by the pinned generators (the
    prometheus-operator module's own YAML says controller-gen v0.18.0), not read from Go's
    module cache."""
    pins = dict(
        line.split()[:2]
        for line in (CRD_MODULE / "go.mod").read_text().splitlines()
        if line.startswith("\t") and len(line.split()) >= 2
    )
    cache = default_cache_dir()
    crds = [yaml.safe_load(path.read_text()) for path in third_party_crds(cache)]
    assert all(path.is_relative_to(cache / "crds") for path in third_party_crds(cache))
    assert [crd["spec"]["names"]["kind"] for crd in crds] == list(OPTIONAL_KINDS)
    httproute, *monitoring = (crd["metadata"]["annotations"] for crd in crds)
    assert httproute["gateway.networking.k8s.io/channel"] == "standard"
    assert httproute["gateway.networking.k8s.io/bundle-version"] == pins["sigs.k8s.io/gateway-api"]
    for annotations in monitoring:
        assert (
            annotations["controller-gen.kubebuilder.io/version"]
            == pins["sigs.k8s.io/controller-tools"]
        )


def test_a_misspelt_field_of_an_optional_kind_is_refused(
    cluster: Cluster, tmp_path: Path, optional_kind_crds: None
) -> None:
    """The generated CRDs carry the real schemas: the chart's HTTPRoute, ServiceMonitor and
    PrometheusRule are checked field by field, not kept as unknown objects."""
    objects = render(chart_copy(tmp_path), EVERY_SWITCH, namespace=cluster.namespace)
    optional = [obj for obj in objects if obj["kind"] in OPTIONAL_KINDS]
    assert {obj["kind"] for obj in optional} == set(OPTIONAL_KINDS)
    for obj in optional:
        obj["spec"]["misspeltField"] = True
        result = cluster.kubectl(
            "apply",
            "--server-side",
            "--dry-run=server",
            "-f",
            "-",
            stdin=json.dumps(obj),
            check=False,
        )
        assert result.returncode != 0, obj["kind"]
        assert "misspeltField" in result.stderr, obj["kind"]


def test_a_misspelt_field_is_refused_by_the_server_side_dry_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The dry run is strict: what the chart renders is checked field by field, not just parsed."""
    objects = render(chart_copy(tmp_path), namespace=cluster.namespace)
    (deployment,) = [
        o
        for o in objects
        if o["metadata"]["name"].endswith("-operator") and o["kind"] == "Deployment"
    ]
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    manifest = json.dumps(deployment)
    result = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=manifest, check=False
    )
    assert result.returncode != 0
    assert "livenesProbe" in result.stderr


def test_every_pod_meets_pod_security_restricted(cluster: Cluster, tmp_path: Path) -> None:
    """A bare Pod from each pod template is admitted where "restricted" is enforced."""
    namespace = restricted_namespace(cluster)
    objects = install(cluster, tmp_path, {}, namespace)
    templates = dict(pod_templates(objects))
    assert len(templates) == 3  # operator, redirector and the `helm test` pod
    for name, template in templates.items():
        admitted = cluster.kubectl(
            "create",
            "-f",
            "-",
            namespace=namespace,
            stdin=json.dumps(_pod(f"{name}-check", template)),
        )
        assert "created" in admitted.stdout

    # The same check refuses a pod that is not restricted, so it is a real check.
    name, template = next(iter(templates.items()))
    del template["spec"]["containers"][0]["securityContext"]
    refused = cluster.kubectl(
        "create",
        "-f",
        "-",
        namespace=namespace,
        check=False,
        stdin=json.dumps(_pod(f"{name}-loose", template)),
    )
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr


def _pod(name: str, template: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "labels": {"shortlink.dev/chart-test": "pod-security"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


@pytest.fixture
def chart_stack(cluster: Cluster, tmp_path: Path) -> Iterator[Stack]:
    """The chart installed in a namespace of its own; its operator and redirector running as
    processes authenticated as the chart's ServiceAccounts."""
    namespace = restricted_namespace(cluster)
    objects = install(cluster, tmp_path, {}, namespace)
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    kubeconfigs = {
        component: service_account_kubeconfig(cluster, namespace, tmp_path, account)
        for component in ("operator", "redirector")
        for account in accounts
        if account.endswith(f"-{component}")
    }
    stack = Stack(
        cluster.control_plane,
        namespace=namespace,
        operator_kubeconfig=kubeconfigs["operator"],
        redirector_kubeconfig=kubeconfigs["redirector"],
        log_dir=tmp_path / "logs",
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def service_account_kubeconfig(
    cluster: Cluster, namespace: str, directory: Path, name: str
) -> Path:
    """A kubeconfig holding a token the API server issued for ServiceAccount `name`."""
    token = cluster.kubectl("create", "token", name, "--duration=1h", namespace=namespace)
    return cluster.control_plane.write_kubeconfig(
        directory / f"{name}.kubeconfig", user=name, token=token.stdout.strip()
    )


def test_operator_and_redirector_do_their_whole_job_with_the_charts_rbac(
    cluster: Cluster, chart_stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"rbac-{unique}", "https://example.com/rbac"))
    served(chart_stack, f"rbac-{unique}", "https://example.com/rbac")
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=10s", f"shortlink/rbac-{unique}")
    cluster.apply(shortlink(f"rbac-{unique}", "https://example.com/moved", redirectCode=301))
    served(chart_stack, f"rbac-{unique}", "https://example.com/moved", code=301)
    shards = cluster.kubectl(
        "get",
        "configmaps",
        "-l",
        "shortlink.dev/routing-table=true",
        "-o",
        "name",
        namespace=chart_stack.namespace,
    )
    assert shards.stdout.strip()  # created by the operator itself, as its ServiceAccount
    cluster.kubectl("delete", "shortlink", f"rbac-{unique}", "--wait=true", "--timeout=10s")
    not_served(chart_stack, f"rbac-{unique}")  # the shard is emptied (or pruned)
    # A link declared on a Service: read (the Service) and written (the ShortLink) as the chart's
    # ServiceAccount.
    annotations = {
        "shortlink.dev/slug": f"declared-{unique}",
        "shortlink.dev/base-url": "https://declared.example/",
    }
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "declared", "annotations": annotations},
        "spec": {"ports": [{"port": 80}]},
    }
    cluster.apply(json.dumps(body))
    served(chart_stack, f"declared-{unique}", "https://declared.example/")
    for process in (chart_stack.operator, chart_stack.redirector):
        assert process is not None
        log = process.log_path.read_text()
        assert "forbidden" not in log.lower(), process.log_tail(60)


@pytest.mark.parametrize(
    ("component", "allowed", "denied"),
    [
        (
            "operator",
            [
                "list shortlinks.shortlink.dev --all-namespaces",
                "patch shortlinks.shortlink.dev --subresource=status -n default",
                "create configmaps",
                "patch configmaps",
                # Links declared by annotation.
                "create shortlinks.shortlink.dev -n default",
                "delete shortlinks.shortlink.dev -n default",
                # What a targetRef names, read only.
                "watch services --all-namespaces",
                "get ingresses.networking.k8s.io -n default",
                "list httproutes.gateway.networking.k8s.io --all-namespaces",
            ],
            [
                "get secrets",
                "list secrets --all-namespaces",
                "create configmaps -n default",
                "list configmaps -n default",
                "update shortlinks.shortlink.dev -n default",
                "patch services -n default",
                "update ingresses.networking.k8s.io -n default",
                "delete httproutes.gateway.networking.k8s.io -n default",
                "create pods",
                "create customresourcedefinitions.apiextensions.k8s.io",
            ],
        ),
        (
            "redirector",
            ["get configmaps", "list configmaps", "watch configmaps"],
            [
                "create configmaps",
                "patch configmaps",
                "delete configmaps",
                "list configmaps -n default",
                "get secrets",
                "list shortlinks.shortlink.dev --all-namespaces",
            ],
        ),
    ],
)
def test_the_service_accounts_can_do_no_more(
    cluster: Cluster, chart_stack: Stack, component: str, allowed: list[str], denied: list[str]
) -> None:
    """`kubectl auth can-i` with each ServiceAccount's own token (no impersonation)."""
    kubeconfig = getattr(chart_stack, f"{component}_kubeconfig")
    for question, expected in [(q, "yes") for q in allowed] + [(q, "no") for q in denied]:
        args = question.split()
        if not any(a.startswith(("-n", "--all-namespaces")) for a in args):
            args += ["-n", chart_stack.namespace]
        answer = kubectl(
            cluster.control_plane,
            "--kubeconfig",
            str(kubeconfig),
            "auth",
            "can-i",
            *args,
            check=False,
        )
        assert answer.stdout.strip() == expected, f"{component}: can-i {question}"


def test_rendered_objects_are_plain_yaml(tmp_path: Path) -> None:
    """helm template output round-trips through YAML, so GitOps tools can store it as it is."""
    objects = render(chart_copy(tmp_path), EVERY_SWITCH)
    assert yaml.safe_load(yaml.safe_dump(objects)) == objects
