"""`kubectl shortlink` against the real API server, operator and redirector, run as a user runs it.

Every command goes through the installed `kubectl-shortlink` console script (one test through
kubectl's own plugin discovery), with the admin's kubeconfig or a ServiceAccount's that holds only
the chart's aggregated `shortlink-view`/`shortlink-edit` roles.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import segno
import yaml

from shortlink_localcluster.stack import Stack
from tests.chart.render import CHART, render
from tests.cluster.helpers import Cluster, eventually, follow, served, shortlink

BIN = Path(sys.executable).parent


def plugin(
    cluster: Cluster, *args: str, kubeconfig: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubectl-shortlink"), *args],
        input=stdin,
        env=cluster.control_plane.env(kubeconfig),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_create_prints_the_short_url_once_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"docs-{unique}"
    result = plugin(
        cluster, "create", slug, "--url", "https://example.com/docs", "-n", cluster.namespace
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{stack.base_url}/{slug}\n"
    assert follow(stack, slug) == (302, "https://example.com/docs")


def test_create_sets_slug_aliases_and_expiry(cluster: Cluster, stack: Stack, unique: str) -> None:
    args = ["--slug", f"hb-{unique}", "--alias", f"hb1-{unique}", "--alias", f"hb2-{unique}"]
    result = plugin(
        cluster, "create", "handbook", "--url", "https://example.com/hb", *args,
        "--expires", "30d", "-n", cluster.namespace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec = cluster.get("shortlink", "handbook")["spec"]
    assert spec["aliases"] == [f"hb1-{unique}", f"hb2-{unique}"]
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", spec["expiresAt"])
    served(stack, f"hb2-{unique}", "https://example.com/hb")


def test_create_with_a_generated_code(cluster: Cluster, stack: Stack) -> None:
    result = plugin(
        cluster, "create", "gen", "--url", "https://example.com/g", "--generate",
        "-n", cluster.namespace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    code = cluster.get("shortlink", "gen")["status"]["slug"]
    assert result.stdout == f"{stack.base_url}/{code}\n"


def test_create_reports_why_a_link_is_not_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink("owner", "https://example.com/1", slug=f"taken-{unique}"))
    cluster.wait_reason("owner", "Published")
    result = plugin(
        cluster, "create", "late", "--url", "https://example.com/2", "--slug",
        f"Taken_{unique}".lower(), "-n", cluster.namespace,
    )  # fmt: skip
    assert result.returncode == 1
    assert "not served: SlugConflict" in result.stderr
    assert f"{cluster.namespace}/owner" in result.stderr


def test_an_expired_link_prints_its_short_url_and_says_why_it_is_not_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    result = plugin(
        cluster, "create", "old", "--url", "https://example.com/o", "--slug", f"old-{unique}",
        "--expires", "2001-01-01T00:00:00Z", "-n", cluster.namespace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{stack.base_url}/old-{unique}\n"
    assert result.stderr.startswith("not served now: Expired: ")


def test_no_wait_returns_at_once(cluster: Cluster, unique: str) -> None:
    result = plugin(
        cluster, "create", "quick", "--url", "https://example.com/q", "--no-wait",
        "-n", cluster.namespace,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "shortlink.shortlink.dev/quick created\n")
    assert cluster.get("shortlink", "quick")["spec"]["url"] == "https://example.com/q"


def test_an_invalid_link_is_refused_before_it_reaches_the_cluster(cluster: Cluster) -> None:
    result = plugin(
        cluster, "create", "bad", "--url", "https://bad..host/", "-n", cluster.namespace
    )
    assert result.returncode == 1
    assert "is invalid: spec.url" in result.stderr
    assert cluster.kubectl("get", "shortlinks", "-o", "name").stdout == ""


def test_dry_runs_create_nothing(cluster: Cluster) -> None:
    client = plugin(
        cluster, "create", "dry", "--url", "https://example.com/", "--dry-run=client",
        "-o", "yaml", "-n", cluster.namespace,
    )  # fmt: skip
    assert client.returncode == 0, client.stderr
    assert yaml.safe_load(client.stdout)["spec"] == {"url": "https://example.com/"}
    server = plugin(
        cluster, "create", "dry", "--url", "https://example.com/", "--dry-run=server",
        "-o", "json", "-n", cluster.namespace,
    )  # fmt: skip
    assert server.returncode == 0, server.stderr
    assert json.loads(server.stdout)["spec"]["redirectCode"] == 302  # defaulted by the server
    refused = plugin(
        cluster, "create", "dry", "--url", "https://example.com/", "--host", "Go.Example.com",
        "--dry-run=server", "-n", cluster.namespace,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "host must be a lowercase DNS name" in refused.stderr
    assert cluster.kubectl("get", "shortlinks", "-o", "name").stdout == ""


def test_ls_shows_the_columns_and_filters_by_host(cluster: Cluster, stack: Stack) -> None:
    cluster.apply(shortlink("a-link", "https://example.com/a", slug=f"a-{cluster.namespace}"))
    cluster.apply(shortlink("b-link", "https://example.com/b", slug="b", host="go.example.com"))
    cluster.wait_reason("b-link", "Published")
    cluster.wait_reason("a-link", "Published")
    result = plugin(cluster, "ls", "-n", cluster.namespace)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["NAME", "SLUG", "URL", "READY", "REASON", "AGE"]
    assert [line.split()[:5] for line in lines] == [
        ["a-link", f"a-{cluster.namespace}", "https://example.com/a", "True", "Published"],
        ["b-link", "b", "https://example.com/b", "True", "Published"],
    ]
    other = plugin(cluster, "ls", "-n", cluster.namespace, "--host", "links.example.com")
    assert [line.split()[0] for line in other.stdout.splitlines()[1:]] == ["a-link"]
    wide = plugin(cluster, "get", "b-link", "-o", "wide", "-n", cluster.namespace)
    assert wide.stdout.splitlines()[0].split()[6:8] == ["SHORT", "URL"]
    assert "http://go.example.com/b" in wide.stdout
    listed = json.loads(plugin(cluster, "ls", "-o", "json", "-n", cluster.namespace).stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a-link", "b-link"]


def test_ls_sorts_by_age_and_lists_every_namespace(cluster: Cluster, stack: Stack) -> None:
    other = cluster.new_namespace()
    cluster.apply(shortlink("older", "https://example.com/o", slug=f"o-{cluster.namespace}"))
    cluster.kubectl("wait", "--for=create", "shortlink/older", "--timeout=10s")

    def newer_is_a_second_younger() -> None:
        cluster.apply(
            shortlink("newer", "https://example.com/n", slug=f"n-{cluster.namespace}"),
            namespace=other,
        )
        created = [
            cluster.get("shortlink", n, namespace=ns)["metadata"]["creationTimestamp"]
            for n, ns in (("older", cluster.namespace), ("newer", other))
        ]
        if created[0] == created[1]:
            cluster.kubectl("delete", "shortlink", "newer", namespace=other)
        assert created[0] < created[1]

    eventually(newer_is_a_second_younger, timeout=10, interval=0.5)
    result = plugin(cluster, "ls", "-A", "--sort-by", "age")
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    mine = [row[1] for row in rows[1:] if row[0] in (cluster.namespace, other)]
    assert mine == ["newer", "older"]


def test_find_names_the_owner_of_a_slug_alias_or_code_as_requests_match(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    other = cluster.new_namespace()
    docs = shortlink(
        "docs", "https://example.com/d", slug=f"team-docs-{unique}", aliases=[f"td-{unique}"]
    )
    cluster.apply(docs, namespace=other)
    cluster.apply(shortlink("rival", "https://example.com/r", slug=f"teamdocs{unique}"))
    cluster.wait_reason("rival", "SlugConflict")
    result = plugin(cluster, "find", f"Team_Docs-{unique}")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["NAMESPACE", "NAME", "SLUG", "AS", "HOST", "SERVING", "READY", "REASON"]
    assert rows[1] == [
        other,
        "docs",
        f"team-docs-{unique}",
        "slug",
        "*",
        "yes",
        "True",
        "Published",
    ]
    assert rows[2][:4] == [cluster.namespace, "rival", f"teamdocs{unique}", "slug"]
    assert rows[2][5:] == ["no", "False", "SlugConflict"]
    alias = json.loads(plugin(cluster, "find", f"TD-{unique}", "-o", "json").stdout)
    assert [(o["name"], o["as"]) for o in alias["owners"]] == [("docs", "alias")]
    cluster.apply(shortlink("gen", "https://example.com/g", generateSlug=True))
    code = cluster.wait_reason("gen", "Published") and cluster.get("shortlink", "gen")
    found = json.loads(plugin(cluster, "find", code["status"]["slug"], "-o", "json").stdout)
    assert [(o["name"], o["as"]) for o in found["owners"]] == [("gen", "generated")]


def test_find_shows_a_slug_held_for_its_deleted_owner(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink("gone", "https://example.com/g", slug=f"held-{unique}"))
    cluster.wait_reason("gone", "Published")
    cluster.kubectl("delete", "shortlink", "gone")

    def held() -> dict[str, Any]:
        result = plugin(cluster, "find", f"held-{unique}", "-o", "json")
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        assert document["held"], document
        return document

    document = held()
    assert document["owners"] == []
    assert document["held"][0]["namespace"] == cluster.namespace
    assert document["held"][0]["name"] == "gone"


def test_find_fails_for_a_slug_nobody_claims(cluster: Cluster, unique: str) -> None:
    result = plugin(cluster, "find", f"nobody-{unique}")
    assert result.returncode == 1
    assert f"no ShortLink claims slug 'nobody-{unique}'" in result.stderr


def test_open_qr_and_inspect_follow_the_slug(
    cluster: Cluster, stack: Stack, unique: str, tmp_path: Path
) -> None:
    cluster.apply(
        shortlink(
            "wiki", "https://example.com/wiki", slug=f"wiki-{unique}", aliases=[f"w-{unique}"],
            description="The team wiki",
        )
    )  # fmt: skip
    cluster.wait_reason("wiki", "Published")
    opened = plugin(cluster, "open", f"W_{unique}".lower(), "--no-browser")
    assert opened.stdout == f"{stack.base_url}/w-{unique}\n"
    picture = tmp_path / "wiki.png"
    assert plugin(cluster, "qr", f"wiki-{unique}", "-o", str(picture)).returncode == 0
    expected = tmp_path / "expected.png"
    segno.make(f"{stack.base_url}/wiki-{unique}", error="m").save(str(expected), scale=8, border=4)
    assert picture.read_bytes() == expected.read_bytes()
    inspected = plugin(cluster, "inspect", f"wiki-{unique}")
    assert inspected.returncode == 0, inspected.stderr
    fields = dict(line.split(":", 1) for line in inspected.stdout.splitlines())
    assert fields["Target"].strip() == "https://example.com/wiki"
    assert fields["Description"].strip() == "The team wiki"
    assert fields["Inspect page"].strip() == f"{stack.base_url}/wiki-{unique}+"
    assert fields["Ready"].strip() == "True Published"


def test_create_sets_whom_to_ask_and_the_listing_and_stats_fall_back_to_the_status(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"owned-{unique}"
    result = plugin(
        cluster, "create", slug, "--url", "https://example.com/o", "--owner", "#team-o",
        "--listed", "-n", cluster.namespace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec = cluster.get("shortlink", slug)["spec"]
    assert (spec["owner"], spec["listed"]) == ("#team-o", True)
    inspected = plugin(cluster, "inspect", slug, "-n", cluster.namespace)
    fields = dict(line.split(":", 1) for line in inspected.stdout.splitlines())
    assert (fields["Owner"].strip(), fields["Listed"].strip()) == ("#team-o", "yes")
    # Without Prometheus, stats shows what status.visits says (nothing yet) and says so.
    shown = plugin(cluster, "stats", slug, "-n", cluster.namespace, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["visits"] == {"24h": 0, "7d": 0, "30d": 0}
    assert "pass --prometheus-url" in shown.stderr


def test_errors_exit_1_with_kubectls_message(cluster: Cluster) -> None:
    result = plugin(cluster, "get", "missing", "-n", cluster.namespace)
    assert result.returncode == 1
    assert 'shortlinks.shortlink.dev "missing" not found' in result.stderr
    assert plugin(cluster, "get", "--sort-by", "colour").returncode == 2


def test_kubectl_finds_the_plugin_and_context_flags_reach_it(
    cluster: Cluster, stack: Stack, tmp_path: Path
) -> None:
    config = yaml.safe_load(cluster.control_plane.kubeconfig.read_text())
    config["contexts"].append({"name": "nowhere", "context": {"cluster": "missing", "user": "x"}})
    config["contexts"][0]["name"] = "mine"
    config["current-context"] = "nowhere"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    cluster.apply(shortlink("ctx", "https://example.com/c", slug=f"ctx-{cluster.namespace}"))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("KUBECONFIG", None)
    result = subprocess.run(
        [str(BIN / "kubectl"), "shortlink", "get", "ctx", "-o", "name",
         f"--kubeconfig={kubeconfig}", "--context", "mine", "-n", cluster.namespace],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "shortlink.shortlink.dev/ctx\n"), result.stderr


def test_lint_against_the_cluster(cluster: Cluster, stack: Stack, tmp_path: Path) -> None:
    ns = cluster.namespace
    cluster.apply(shortlink("owner", "https://example.com/1", slug=f"own-{ns}"))
    cluster.apply(shortlink("steady", "https://example.com/s", slug=f"steady-{ns}"))
    cluster.wait_reason("owner", "Published")
    manifests = tmp_path / "links"
    manifests.mkdir()
    (manifests / "new.yaml").write_text(
        shortlink("newcomer", "https://example.com/2", slug=f"Own_{ns}".lower())
    )
    # The object itself, unchanged or changed, does not conflict with its copy in the cluster.
    (manifests / "steady.yaml").write_text(
        shortlink("steady", "https://example.com/changed", slug=f"steady-{ns}")
    )
    offline = plugin(cluster, "lint", str(manifests), "-n", ns)
    assert (offline.returncode, offline.stdout) == (0, "no problems found\n")
    # Only the API server refuses this one: the operator would accept the host in any case.
    (manifests / "upper.yaml").write_text(
        shortlink("upper", "https://example.com/u", slug=f"up-{ns}", host="Go.Example.com")
    )
    online = plugin(cluster, "lint", "--cluster", str(manifests), "-n", ns)
    assert online.returncode == 1
    first, second = online.stdout.splitlines()
    assert first.startswith(f"{manifests / 'new.yaml'}:1: error: {ns}/newcomer:")
    assert f"already claimed in the cluster by {ns}/owner" in first
    assert second.startswith(f"{manifests / 'upper.yaml'}:1: error: {ns}/upper: the API server")
    assert "host must be a lowercase DNS name" in second
    assert cluster.kubectl("get", "shortlink", "upper", check=False).returncode == 1


def test_the_roles_aggregate_into_view_and_edit_and_are_enough(
    cluster: Cluster, stack: Stack, tmp_path: Path
) -> None:
    roles = [
        o for o in render(CHART) if o["metadata"]["name"] in ("shortlink-view", "shortlink-edit")
    ]
    assert len(roles) == 2
    manifest = "\n---\n".join(json.dumps(role) for role in roles)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    for builtin, role in (("view", "shortlink-view"), ("edit", "shortlink-edit")):
        got = cluster.kubectl("get", "clusterrole", builtin, "-o", "json", namespace=None)
        aggregation = json.loads(got.stdout)["aggregationRule"]
        labels = next(r for r in roles if r["metadata"]["name"] == role)["metadata"]["labels"]
        assert any(
            selector["matchLabels"].items() <= labels.items()
            for selector in aggregation["clusterRoleSelectors"]
        ), (builtin, aggregation)
    kubeconfig = _user(cluster, tmp_path, "shortlink-edit", "shortlink-view")
    created = plugin(
        cluster, "create", "mine", "--url", "https://example.com/m", "--slug",
        f"mine-{cluster.namespace}", "-n", cluster.namespace, kubeconfig=kubeconfig,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    found = plugin(cluster, "find", f"mine-{cluster.namespace}", kubeconfig=kubeconfig)
    assert found.returncode == 0, found.stderr
    assert "cannot list ShortLinks in every namespace" in found.stderr
    assert "cannot read the routing table" in found.stderr
    can_i = cluster.kubectl(
        "auth", "can-i", "patch", "shortlinks", "--subresource=status",
        f"--kubeconfig={kubeconfig}", check=False,
    )  # fmt: skip
    assert can_i.stdout.strip() == "no"


def _user(cluster: Cluster, tmp_path: Path, *roles: str) -> Path:
    """A ServiceAccount of the test namespace bound to `roles` there; its kubeconfig."""
    cluster.kubectl("create", "serviceaccount", "owner")
    for role in roles:
        cluster.kubectl(
            "create", "rolebinding", f"owner-{role}", f"--clusterrole={role}",
            f"--serviceaccount={cluster.namespace}:owner",
        )  # fmt: skip
    token = cluster.kubectl("create", "token", "owner", "--duration=1h").stdout.strip()
    path = cluster.control_plane.write_kubeconfig(tmp_path / "owner", user="owner", token=token)
    config = yaml.safe_load(path.read_text())
    config["contexts"][0]["context"]["namespace"] = cluster.namespace
    path.write_text(yaml.safe_dump(config))
    return path


def test_lint_against_the_cluster_as_a_viewer_warns_what_it_could_not_check(
    cluster: Cluster, tmp_path: Path
) -> None:
    roles = [o for o in render(CHART) if o["metadata"]["name"] == "shortlink-view"]
    manifest = "\n---\n".join(json.dumps(role) for role in roles)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    kubeconfig = _user(cluster, tmp_path, "shortlink-view")
    path = tmp_path / "link.yaml"
    path.write_text(shortlink("fine", "https://example.com/", slug=f"fine-{cluster.namespace}"))
    result = plugin(cluster, "lint", "--cluster", str(path), "-o", "json", kubeconfig=kubeconfig)
    assert result.returncode == 0, result.stdout + result.stderr
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["severity"] == "warning"
    assert finding["message"].startswith("not checked by the API server (no permission)")
