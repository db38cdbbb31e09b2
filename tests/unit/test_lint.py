"""The manifest lint: the operator's validation, conflicts across files and with a cluster, output.

Runs on files in a temporary folder, as `python -m shortlink_core.lint` does in CI.
"""

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shortlink_core.link import parse_link
from shortlink_core.lint import lint_paths, main, render
from shortlink_core.table import Release
from shortlink_core.validation import InvalidLink
from shortlink_localcluster.stack import REPO


def link(name: str, url: str = "https://example.com/", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": name},
        "spec": {"url": url, **spec},
    }


def write(folder: Path, name: str, *documents: dict[str, Any], prefix: str = "") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prefix + "\n---\n".join(json.dumps(d) for d in documents) + "\n")
    return path


def messages(findings: list[Any]) -> list[str]:
    return [f.message for f in findings]


def test_valid_manifests_have_no_findings(tmp_path: Path) -> None:
    by_ref = link("grafana")
    by_ref["spec"] = {"targetRef": {"kind": "Service", "name": "grafana", "path": "/d", "port": 80}}
    write(
        tmp_path,
        "a.yaml",
        link("docs"),
        link("wiki", slug="team-wiki", aliases=["tw"]),
        by_ref,
    )
    assert lint_paths([str(tmp_path)]) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"url": "javascript:alert(1)"},
        {"url": "https://bad..host/"},  # only the operator's validation refuses this one
        {"url": "https://example.com/", "slug": "Team"},
        {"url": "https://example.com/", "redirectCode": 303},
        {"url": "https://example.com/", "slug": "a", "generateSlug": True},
        {"url": "https://example.com/", "expiresAt": "soon"},
    ],
)
def test_an_invalid_spec_is_reported_with_the_operators_own_message(
    tmp_path: Path, spec: dict[str, Any]
) -> None:
    body = link("bad") | {"metadata": {"name": "bad", "namespace": "team"}, "spec": spec}
    path = write(tmp_path, "bad.yaml", link("fine"), body)
    with pytest.raises(InvalidLink) as expected:
        parse_link(spec, name="bad")
    [finding] = lint_paths([str(path)])
    assert finding.message == str(expected.value)
    assert (finding.path, finding.severity, finding.object) == (str(path), "error", "team/bad")
    assert finding.line == 3  # the second document starts after the first and its "---"


def test_a_reserved_name_used_as_the_slug_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("healthz"))
    assert "reserved" in lint_paths([str(path)])[0].message


def test_claims_that_match_alike_across_files_conflict(tmp_path: Path) -> None:
    write(tmp_path, "team-a/docs.yaml", link("docs", slug="team-docs"))
    write(tmp_path, "team-b/docs.yaml", link("other", aliases=["Team_Docs".lower()]))
    findings = lint_paths([str(tmp_path)])
    assert [f.object for f in findings] == ["default/docs", "default/other"]
    assert all(f.severity == "error" for f in findings)
    assert "'team_docs' (alias) of default/other" in findings[0].message
    assert "'team-docs' (slug) of default/docs" in findings[1].message


def test_the_same_slug_in_two_namespaces_conflicts(tmp_path: Path) -> None:
    one, two = link("docs"), link("docs")
    one["metadata"]["namespace"], two["metadata"]["namespace"] = "a", "b"
    assert len(lint_paths([str(write(tmp_path, "a.yaml", one, two))])) == 2


def test_the_same_slug_on_different_hosts_does_not_conflict(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        link("one", slug="docs", host="go.example.com"),
        link("two", slug="docs", host="links.example.com"),
    )
    assert lint_paths([str(path)]) == []


def test_a_links_own_slug_and_alias_that_match_alike_conflict(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("team-docs", aliases=["teamdocs"]))
    assert len(lint_paths([str(path)])) == 2


def test_generated_slugs_claim_nothing_in_the_files(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("a", generateSlug=True), link("b", generateSlug=True))
    assert lint_paths([str(path)]) == []


def test_an_object_defined_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", link("docs"))
    write(tmp_path, "b.yaml", link("docs", url="https://example.org/"))
    [finding] = lint_paths([str(tmp_path)])
    assert "default/docs is also defined at" in finding.message


def test_the_namespace_option_places_objects_without_one(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("bad", url="ftp://x"))
    assert lint_paths([str(path)], namespace="team")[0].object == "team/bad"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"apiVersion": "shortlink.dev/v1", "kind": "ShortLink"}, "is not served"),
        ({"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLinks"}, "has no kind"),
    ],
)
def test_unknown_versions_and_kinds_of_the_group_are_errors(
    tmp_path: Path, header: dict[str, str], message: str
) -> None:
    path = write(tmp_path, "a.yaml", link("docs") | header)
    assert message in lint_paths([str(path)])[0].message


@pytest.mark.parametrize("metadata", ["docs", None, {"namespace": "a"}, {"name": 7}, {"name": ""}])
def test_a_link_without_a_usable_name_is_an_error(tmp_path: Path, metadata: object) -> None:
    path = write(tmp_path, "a.yaml", link("docs") | {"metadata": metadata})
    [finding] = lint_paths([str(path)])
    assert finding.message.startswith("metadata")


def test_other_objects_and_policies_are_left_alone(tmp_path: Path) -> None:
    policy: dict[str, Any] = {"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLinkPolicy"}
    policy |= {"metadata": {"name": "p"}, "spec": {"allowedSlugPrefixes": [""]}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "docs"}}
    assert lint_paths([str(write(tmp_path, "a.yaml", policy, config))]) == []


def test_list_objects_and_json_files_are_read(tmp_path: Path) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [link("x", url="ftp://x")]}
    (tmp_path / "list.json").write_text(json.dumps(listing))
    assert lint_paths([str(tmp_path)])[0].object == "default/x"


def test_a_file_that_is_not_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: 1\nb: [unclosed\n")
    [finding] = lint_paths([str(tmp_path)])
    assert finding.message.startswith("not YAML")
    assert finding.line >= 2


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    [finding] = lint_paths([str(tmp_path / "nope.yaml")])
    assert "cannot read" in finding.message


def test_standard_input_is_read_for_a_dash() -> None:
    stdin = io.StringIO(json.dumps(link("x", url="ftp://x")))
    assert lint_paths(["-"], stdin=stdin)[0].path == "-"


def test_a_claim_a_cluster_link_already_has_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("new", slug="docs"), link("mine", slug="wiki"))
    owner = link("old", slug="Docs".lower()) | {"metadata": {"name": "old", "namespace": "x"}}
    mine = link("mine", slug="wiki") | {"metadata": {"name": "mine", "namespace": "default"}}
    [finding] = lint_paths([str(path)], live=[owner, mine])
    assert finding.object == "default/new"
    assert "already claimed in the cluster by x/old" in finding.message


def test_a_generated_code_in_the_cluster_is_a_claim(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("new", slug="k7hx2pq"))
    code = link("gen", generateSlug=True) | {"metadata": {"name": "gen", "namespace": "x"}}
    code["status"] = {"slug": "k7hx2pq"}
    [finding] = lint_paths([str(path)], live=[code])
    assert "x/gen (as 'k7hx2pq', its generated)" in finding.message


def test_a_slug_held_for_a_deleted_owner_is_an_error_unless_it_comes_back(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", link("new", slug="docs"))
    hold = Release(key="/docs", namespace="x", name="old", until="2030-01-01T00:00:00Z")
    [finding] = lint_paths([str(path)], held=[hold])
    assert "held for the deleted x/old until 2030-01-01T00:00:00Z" in finding.message
    back = Release(key="/docs", namespace="default", name="new", until="2030-01-01T00:00:00Z")
    assert lint_paths([str(path)], held=[back]) == []


def test_json_output_counts_errors(tmp_path: Path) -> None:
    findings = lint_paths([str(write(tmp_path, "a.yaml", link("x", url="ftp://x")))])
    stream = io.StringIO()
    render(findings, "json", stream)
    document = json.loads(stream.getvalue())
    assert document["errors"] == 1
    assert document["findings"][0]["object"] == "default/x"
    assert set(document["findings"][0]) == {"path", "line", "severity", "object", "message"}


def test_github_output_is_one_annotation_per_finding(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b.yaml", link("x", url="ftp://x"), prefix="# comment\n")
    stream = io.StringIO()
    render(lint_paths([str(path)]), "github", stream)
    [line] = stream.getvalue().splitlines()
    escaped = str(path).replace(",", "%2C")
    assert line.startswith(f"::error file={escaped},line=2,title=shortlink lint::default/x: ")


def test_the_exit_status_is_one_on_errors_and_zero_without(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", link("docs"))
    bad = write(tmp_path, "bad.yaml", link("x", url="ftp://x"))
    assert main([str(good)]) == 0
    assert main([str(bad), "-o", "json"]) == 1


def test_python_dash_m_runs_it(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", link("x", url="ftp://x"))
    result = subprocess.run(
        [sys.executable, "-m", "shortlink_core.lint", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}:1: error: default/x: spec.url")


def test_the_repositorys_examples_pass() -> None:
    assert lint_paths([str(REPO / "examples")]) == []
