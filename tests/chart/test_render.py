"""The Helm chart as rendered by the pinned helm: lint, defaults, every switch, schema, CRD drift.

These need helm but no control plane; tests/cluster/test_chart_*.py apply what renders here to the
real API server.
"""

import filecmp
import re
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from shortlink_core.api import TABLE_LABEL
from shortlink_localcluster.stack import CRDS
from tests.chart.render import (
    CHART,
    EVERY_SWITCH,
    chart_copy,
    of_kind,
    pod_templates,
    render,
    run_helm,
    values_file,
)


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    return chart_copy(tmp_path)


def test_the_chart_lints_with_the_default_values() -> None:
    run_helm("lint", "--strict", str(CHART))


def test_the_chart_lints_with_every_switch_on(chart: Path) -> None:
    run_helm(
        "lint", "--strict", str(chart), "--values", str(values_file(chart.parent, EVERY_SWITCH))
    )


def test_the_defaults_render_the_core_and_nothing_optional() -> None:
    objects = render(CHART)
    kinds = sorted({obj["kind"] for obj in objects})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Pod",  # the `helm test` pod
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]


def test_every_switch_renders_its_object(chart: Path) -> None:
    kinds = {obj["kind"] for obj in render(chart, EVERY_SWITCH)}
    for kind in ("Ingress", "HTTPRoute", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"):
        assert kind in kinds


def test_the_routing_table_is_never_templated(chart: Path) -> None:
    """The operator creates and owns the routing ConfigMaps; the only ConfigMap is the dashboard."""
    configmaps = of_kind(render(chart, EVERY_SWITCH), "ConfigMap")
    assert [cm["metadata"]["name"] for cm in configmaps] == ["shortlink-dashboard"]
    assert TABLE_LABEL not in configmaps[0]["metadata"]["labels"]


def test_the_operator_has_a_standby_a_liveness_probe_and_metrics() -> None:
    objects = render(CHART)
    (deployment,) = [d for d in of_kind(objects, "Deployment") if "operator" in _name(d)]
    assert deployment["spec"]["replicas"] == 2  # one holds the writer Lease, one stands by
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["SHORTLINK_LIVENESS_ENDPOINT"] == "http://0.0.0.0:8081/healthz"
    assert env["SHORTLINK_OPERATOR_METRICS_PORT"] == "9091"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8081, "metrics": 9091}
    (service,) = [s for s in of_kind(objects, "Service") if "operator" in _name(s)]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9091, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_the_service_monitors_select_both_components_metrics_services(chart: Path) -> None:
    objects = render(chart, EVERY_SWITCH)
    monitors = of_kind(objects, "ServiceMonitor")
    services = of_kind(objects, "Service")
    assert len(monitors) == 2
    for monitor in monitors:
        selected = [
            s
            for s in services
            if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, monitor["metadata"]["name"]
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
        assert "metrics" in [p["name"] for p in selected[0]["spec"]["ports"]]


def test_the_redirector_shows_the_operators_public_base_url() -> None:
    """Inspect pages and QR codes show the same short URL as status.shortURL (https behind TLS)."""
    values = {"operator": {"publicBaseUrl": "https://go.example.com"}}
    (deployment,) = [
        d for d in of_kind(render(CHART, values), "Deployment") if "redirector" in _name(d)
    ]
    env = {
        item["name"]: item.get("value")
        for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SHORTLINK_PUBLIC_BASE_URL"] == "https://go.example.com"


def _operator_env(objects: list[dict[str, Any]]) -> dict[str, str | None]:
    (deployment,) = [d for d in of_kind(objects, "Deployment") if "operator" in _name(d)]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value") for item in container["env"]}


def test_without_a_prometheus_url_the_operator_writes_no_visits() -> None:
    env = _operator_env(render(CHART))
    assert not [name for name in env if "PROMETHEUS" in name or "VISITS" in name]


def test_a_prometheus_url_reaches_the_operator_and_its_network_policy() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    values = {
        "operator": {
            "visits": {
                "prometheusUrl": "http://prometheus.monitoring:9090",
                "intervalSeconds": 60,
                "writesPerSecond": 5,
            }
        },
        "networkPolicy": {"enabled": True, "prometheusTo": [peer]},
    }
    objects = render(CHART, values)
    env = _operator_env(objects)
    assert env["SHORTLINK_PROMETHEUS_URL"] == "http://prometheus.monitoring:9090"
    assert (
        env["SHORTLINK_VISITS_INTERVAL_SECONDS"],
        env["SHORTLINK_VISITS_WRITES_PER_SECOND"],
    ) == (
        "60",
        "5",
    )
    (policy,) = [p for p in of_kind(objects, "NetworkPolicy") if "operator" in _name(p)]
    assert policy["spec"]["egress"][-1] == {
        "ports": [{"port": 9090, "protocol": "TCP"}],
        "to": [peer],
    }


def test_a_prometheus_url_without_a_port_opens_its_schemes_port() -> None:
    values = {
        "operator": {"visits": {"prometheusUrl": "https://prometheus.example"}},
        "networkPolicy": {"enabled": True},
    }
    (policy,) = [
        p for p in of_kind(render(CHART, values), "NetworkPolicy") if "operator" in _name(p)
    ]
    assert policy["spec"]["egress"][-1] == {"ports": [{"port": 443, "protocol": "TCP"}]}


def test_the_redirector_scales_spreads_and_survives_evictions() -> None:
    objects = render(CHART)
    (deployment,) = [d for d in of_kind(objects, "Deployment") if "redirector" in _name(d)]
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    spec = deployment["spec"]["template"]["spec"]
    assert [c["topologyKey"] for c in spec["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == _name(deployment)
    (pdb,) = of_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_without_autoscaling_the_deployment_sets_its_replicas() -> None:
    objects = render(CHART, {"redirector": {"autoscaling": {"enabled": False}, "replicaCount": 3}})
    assert not of_kind(objects, "HorizontalPodAutoscaler")
    (deployment,) = [d for d in of_kind(objects, "Deployment") if "redirector" in _name(d)]
    assert deployment["spec"]["replicas"] == 3


def test_every_container_runs_read_only_as_non_root() -> None:
    for _, template in pod_templates(render(CHART)):
        for container in template["spec"]["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}


def test_no_rbac_rule_uses_a_wildcard() -> None:
    roles = [o for o in render(CHART) if o["kind"] in {"Role", "ClusterRole"}]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), (_name(role), rule)


@pytest.mark.parametrize(
    ("switch", "path"),
    [
        ("prometheusRule", "files/alerts/shortlink.rules.yaml"),
        ("grafanaDashboard", "files/dashboards/shortlink.json"),
    ],
)
def test_a_monitoring_switch_without_its_file_fails_clearly(
    tmp_path: Path, switch: str, path: str
) -> None:
    chart = chart_copy(tmp_path, monitoring_files=False)
    (chart / path).unlink(missing_ok=True)
    values = values_file(tmp_path, {"monitoring": {switch: {"enabled": True}}})
    result = run_helm("template", "x", str(chart), "--values", str(values), check=False)
    assert result.returncode != 0
    assert f"monitoring.{switch}.enabled is on, but the chart has no {path}" in result.stderr


def test_the_rules_and_the_dashboard_are_included_as_they_are(chart: Path) -> None:
    objects = render(chart, EVERY_SWITCH)
    (rule,) = of_kind(objects, "PrometheusRule")
    rules_file = yaml.safe_load((chart / "files/alerts/shortlink.rules.yaml").read_text())
    assert rule["spec"] == rules_file
    (dashboard,) = of_kind(objects, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    expected = (chart / "files/dashboards/shortlink.json").read_text().rstrip("\n")
    assert dashboard["data"]["shortlink.json"] == expected


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"operator": {"shardz": 3}}, "additional properties 'shardz' not allowed"),
        ({"operator": {"publicBaseUrl": "ftp://x"}}, "/operator/publicBaseUrl"),
        ({"operator": {"shards": 0}}, "/operator/shards"),
        ({"redirector": {"logLevel": "loud"}}, "/redirector/logLevel"),
        ({"crds": {"enabled": "yes"}}, "/crds/enabled"),
        ({"operator": {"visits": {"prometheusUrl": "prometheus:9090"}}}, "/operator/visits"),
        ({"operator": {"visits": {"writesPerSecond": 0}}}, "/operator/visits/writesPerSecond"),
    ],
)
def test_the_schema_rejects_bad_values(
    tmp_path: Path, values: dict[str, Any], complaint: str
) -> None:
    args = ("template", "x", str(CHART), "--values", str(values_file(tmp_path, values)))
    result = run_helm(*args, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_every_value_is_commented() -> None:
    """Each key in values.yaml has a comment line right above it (resources use Kubernetes' own)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    uncommented = []
    inside_resources = None
    for number, line in enumerate(lines):
        key = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not key:
            continue
        indent = len(key.group(1))
        if inside_resources is not None and indent > inside_resources:
            continue
        inside_resources = indent if key.group(2) == "resources" else None
        if not lines[number - 1].strip().startswith("#"):
            uncommented.append(line.strip())
    assert uncommented == []


def test_the_charts_crds_are_exactly_the_crds_folder() -> None:
    """Drift check: `make chart-crds` copies crds/ into the chart; any difference fails here."""
    copies = CHART / "files" / "crds"
    comparison = filecmp.dircmp(CRDS, copies)
    assert comparison.left_only == [], "new CRDs not in the chart: run `make chart-crds`"
    assert comparison.right_only == [], "CRDs removed from crds/ are still in the chart"
    _, mismatch, errors = filecmp.cmpfiles(CRDS, copies, comparison.common_files, shallow=False)
    assert mismatch == errors == [], "chart CRDs differ from crds/: run `make chart-crds`"


def test_every_crd_renders_as_in_the_crds_folder_and_is_kept() -> None:
    sources = {
        doc["metadata"]["name"]: doc
        for path in sorted(CRDS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }
    rendered = {_name(crd): crd for crd in of_kind(render(CHART), "CustomResourceDefinition")}
    assert rendered.keys() == sources.keys()
    for name, crd in rendered.items():
        assert crd["spec"] == sources[name]["spec"]
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_crds_can_be_left_out_or_not_kept() -> None:
    assert not of_kind(render(CHART, {"crds": {"enabled": False}}), "CustomResourceDefinition")
    for crd in of_kind(render(CHART, {"crds": {"keep": False}}), "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in (crd["metadata"].get("annotations") or {})


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def test_link_owners_roles_aggregate_into_view_and_edit() -> None:
    roles = {_name(r): r for r in of_kind(render(CHART), "ClusterRole")}
    view, edit = roles["shortlink-view"], roles["shortlink-edit"]
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert view["metadata"]["labels"][aggregate + "view"] == "true"
    assert edit["metadata"]["labels"][aggregate + "edit"] == "true"
    assert aggregate + "view" not in edit["metadata"]["labels"]  # viewers never write
    assert {verb for rule in view["rules"] for verb in rule["verbs"]} == {"get", "list", "watch"}
    assert all("shortlinks/status" not in rule["resources"] for rule in edit["rules"])


def test_the_admission_policy_is_the_shipped_file_and_can_be_left_out(chart: Path) -> None:
    shipped = list(
        yaml.safe_load_all((CHART / "files/admission/shortlink-policy.yaml").read_text())
    )
    rendered = [o for o in render(CHART) if o["kind"].startswith("ValidatingAdmissionPolicy")]
    assert [o["spec"] for o in rendered] == [o["spec"] for o in shipped]
    off = render(chart, {"admissionPolicy": {"enabled": False}, "userRoles": {"enabled": False}})
    kinds = {o["kind"] for o in off}
    assert not {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} & kinds
    assert not {"shortlink-view", "shortlink-edit"} & {_name(o) for o in off}


def test_a_stopping_redirector_keeps_serving_while_proxies_drop_it() -> None:
    (deployment,) = [d for d in of_kind(render(CHART), "Deployment") if "redirector" in _name(d)]
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    off = render(CHART, {"redirector": {"preStopSleepSeconds": 0}})
    (deployment,) = [d for d in of_kind(off, "Deployment") if "redirector" in _name(d)]
    assert "lifecycle" not in deployment["spec"]["template"]["spec"]["containers"][0]


def _container(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    (deployment,) = [d for d in of_kind(objects, "Deployment") if component in _name(d)]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_production_settings_reach_the_processes() -> None:
    objects = render(
        CHART,
        {
            "operator": {
                "slugKeySecret": {"name": "shortlink-slug-key", "key": "key"},
                "slugGraceSeconds": 60,
                "shardBudgetBytes": 131072,
            },
            "redirector": {
                "trustedProxies": ["10.0.0.0/8", "192.168.0.0/16"],
                "countryHeader": "CF-IPCountry",
                "visitLog": False,
                "maxLinkSeries": 500,
            },
        },
    )
    operator = {e["name"]: e for e in _container(objects, "operator")["env"]}
    assert operator["SHORTLINK_SLUG_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "shortlink-slug-key", "key": "key"}
    }
    assert operator["SHORTLINK_SLUG_GRACE_SECONDS"]["value"] == "60"
    assert operator["SHORTLINK_SHARD_BUDGET_BYTES"]["value"] == "131072"
    redirector = {e["name"]: e.get("value") for e in _container(objects, "redirector")["env"]}
    assert redirector["SHORTLINK_TRUSTED_PROXIES"] == "10.0.0.0/8,192.168.0.0/16"
    assert redirector["SHORTLINK_COUNTRY_HEADER"] == "CF-IPCountry"
    assert redirector["SHORTLINK_VISIT_LOG"] == "false"
    assert redirector["SHORTLINK_MAX_LINK_SERIES"] == "500"
    # Without a Secret the built-in key is used: no SHORTLINK_SLUG_KEY at all.
    defaults = _container(render(CHART), "operator")
    assert "SHORTLINK_SLUG_KEY" not in {e["name"] for e in defaults["env"]}


@pytest.mark.parametrize("component", ["operator", "redirector"])
def test_extra_env_env_from_and_args_are_added(component: str) -> None:
    extra = {
        "extraEnv": [{"name": "EXTRA", "value": "1"}],
        "envFrom": [{"configMapRef": {"name": "more"}}],
        "extraArgs": ["--log-level", "debug"] if component == "redirector" else ["--shards", "8"],
    }
    container = _container(render(CHART, {component: extra}), component)
    assert {"name": "EXTRA", "value": "1"} in container["env"]
    assert container["envFrom"] == [{"configMapRef": {"name": "more"}}]
    assert container["args"] == extra["extraArgs"]
    plain = _container(render(CHART), component)
    assert "envFrom" not in plain
    assert "args" not in plain


def test_alerts_can_be_left_out_and_labelled_for_routing(chart: Path) -> None:
    values = {
        "monitoring": {
            "prometheusRule": {
                "enabled": True,
                "disabledAlerts": ["ShortlinkLinksInConflict"],
                "alertLabels": {"team": "platform", "severity": "page"},
            }
        }
    }
    (rule,) = of_kind(render(chart, values), "PrometheusRule")
    shipped = yaml.safe_load((chart / "files/alerts/shortlink.rules.yaml").read_text())
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    every = {r["alert"]: r for g in shipped["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == set(every) - {"ShortlinkLinksInConflict"}
    for name, alert in alerts.items():
        # Added to every alert; an alert's own labels (its severity) win.
        assert alert["labels"] == {"team": "platform", **every[name].get("labels", {})}
        assert alert["expr"] == every[name]["expr"]
        assert alert.get("annotations") == every[name].get("annotations")


VERBS: Final = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}


def _readme_permissions() -> set[tuple[str, str, str]]:
    """(role, verb, resource) for each grant the chart README's permission table states."""
    text = (CHART / "README.md").read_text()
    table = text[text.index("| who | may | where |") :].split("\n\n", 1)[0]
    granted = set()
    for row in table.splitlines()[2:]:
        who, may, where = (cell.strip() for cell in row.strip("|").split("|"))
        if who in ("operator", "redirector"):
            role = f"{'ClusterRole' if where == 'cluster' else 'Role'} shortlink-{who}"
        else:
            role = f"ClusterRole {re.findall(r'`([^`]+)`', who)[0]}"
        for clause in re.sub(r"\([^)]*\)", "", may).split(";"):
            words = re.findall(r"`([^`]+)`", clause)
            for verb in VERBS.intersection(words):
                granted |= {(role, verb, word) for word in words if word not in VERBS}
    return granted


def test_the_readme_permission_table_is_the_chart_rbac_exactly() -> None:
    rendered = set()
    for obj in render(CHART):
        if obj["kind"] in ("ClusterRole", "Role"):
            for rule in obj["rules"]:
                for verb in rule["verbs"]:
                    for resource in rule["resources"]:
                        rendered.add((f"{obj['kind']} {_name(obj)}", verb, resource))
    assert _readme_permissions() == rendered


def test_target_probes_are_off_by_default_and_their_settings_reach_the_operator() -> None:
    assert "SHORTLINK_PROBE_TARGETS" not in _operator_env(render(CHART))
    probes = {
        "enabled": True,
        "ratePerSecond": 2,
        "intervalSeconds": 600,
        "concurrency": 4,
        "timeoutSeconds": 3,
        "privateAddresses": False,
        "writesPerSecond": 5,
    }
    objects = render(CHART, {"operator": {"targetProbes": probes}})
    env = _operator_env(objects)
    assert {key: value for key, value in env.items() if "PROBE" in key} == {
        "SHORTLINK_PROBE_TARGETS": "true",
        "SHORTLINK_PROBE_RATE": "2",
        "SHORTLINK_PROBE_INTERVAL_SECONDS": "600",
        "SHORTLINK_PROBE_CONCURRENCY": "4",
        "SHORTLINK_PROBE_TIMEOUT_SECONDS": "3",
        "SHORTLINK_PROBE_PRIVATE_ADDRESSES": "false",
        "SHORTLINK_PROBE_WRITES_PER_SECOND": "5",
    }


def test_probes_may_leave_the_pod_for_public_addresses_only_by_default() -> None:
    values = {"operator": {"targetProbes": {"enabled": True}}, "networkPolicy": {"enabled": True}}
    (policy,) = [
        p for p in of_kind(render(CHART, values), "NetworkPolicy") if "operator" in _name(p)
    ]
    (probes,) = [rule for rule in policy["spec"]["egress"] if "ports" not in rule]
    blocks = {peer["ipBlock"]["cidr"]: set(peer["ipBlock"]["except"]) for peer in probes["to"]}
    assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10"} <= blocks["0.0.0.0/0"]
    assert {"fc00::/7", "fe80::/10"} <= blocks["::/0"]
    closed = {"networkPolicy": {"enabled": True}}
    (policy,) = [
        p for p in of_kind(render(CHART, closed), "NetworkPolicy") if "operator" in _name(p)
    ]
    assert all("ports" in rule for rule in policy["spec"]["egress"])


def test_the_unreachable_targets_alert_takes_its_threshold_from_values(chart: Path) -> None:
    def expr(values: dict[str, Any]) -> str:
        (rule,) = of_kind(
            render(chart, {"monitoring": {"prometheusRule": values}}), "PrometheusRule"
        )
        (alert,) = [
            r
            for g in rule["spec"]["groups"]
            for r in g["rules"]
            if r.get("alert") == "ShortlinkTargetsUnreachable"
        ]
        return str(alert["expr"])

    assert expr({"enabled": True}).endswith("> 3600")
    assert expr({"enabled": True, "targetUnreachableSeconds": 900}).endswith("> 900")
