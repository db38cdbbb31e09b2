"""The plugin's pure parts: table columns and sorting, ages, expiry durations, slug lookup."""

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shortlink_core.table import Release, encode_entries
from shortlink_plugin.cli import parser
from shortlink_plugin.commands import _sorted, expiry, new_link
from shortlink_plugin.listing import age, format_table, rows, visits
from shortlink_plugin.lookup import holds, owners


def link(
    name: str,
    *,
    namespace: str = "team",
    created: str = "2030-01-01T00:00:00Z",
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"url": "https://example.com/", **spec},
        "status": status or {},
    }


def published(slug: str, **extra: Any) -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "Published", "message": ""}
    return {"slug": slug, "conditions": [ready], **extra}


def test_the_visits_column_appears_only_when_a_link_has_visits() -> None:
    plain = [link("a", status=published("a"))]
    assert rows(plain, wide=False, namespaces=False)[0] == [
        "NAME", "SLUG", "URL", "READY", "REASON", "AGE",
    ]  # fmt: skip
    counted = [*plain, link("b", status=published("b", visits={"last7d": 12, "last30d": 40}))]
    table = rows(counted, wide=False, namespaces=True)
    assert table[0] == ["NAMESPACE", "NAME", "SLUG", "URL", "READY", "REASON", "VISITS", "AGE"]
    assert [row[6] for row in table[1:]] == ["", "12"]


@pytest.mark.parametrize(
    ("value", "count"),
    [(7, 7), ({"last7d": 3}, 3), ({"last30d": 9}, 9), ({}, None), (None, None), (True, None)],
)
def test_visits_read_a_number_or_counts_by_window(value: object, count: int | None) -> None:
    assert visits(link("a", status={"visits": value})) == count


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


def test_sorting_by_age_is_newest_first_and_by_visits_most_first() -> None:
    old = link("old", created="2030-01-01T00:00:00Z", status={"visits": 5})
    new = link("new", created="2030-01-02T00:00:00Z", status={"visits": 1})
    unknown = link("none", created="2030-01-03T00:00:00Z")
    assert names(_sorted([old, new, unknown], "age")) == ["none", "new", "old"]
    assert names(_sorted([new, unknown, old], "visits")) == ["old", "new", "none"]
    assert names(_sorted([unknown, old, new], "name")) == ["new", "none", "old"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (119, "119s"), (120, "2m"), (3 * 3600, "3h"), (9 * 86400, "9d")],
)
def test_ages_read_like_kubectl(seconds: int, shown: str) -> None:
    now = datetime.fromtimestamp(1893456000 + seconds, tz=UTC)  # 2030-01-01T00:00:00Z + seconds
    assert age(link("a"), now) == shown


def test_tables_pad_columns_like_kubectl() -> None:
    assert format_table([["NAME", "URL"], ["a", "https://x/"]]) == (
        "NAME   URL\na      https://x/\n"
    )


def test_expiry_takes_a_time_or_a_duration_from_now() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert expiry("2031-05-01T00:00:00Z", now) == "2031-05-01T00:00:00Z"
    assert expiry("90d", now) == "2030-04-01T00:00:00Z"
    assert expiry("1d12h", now) == "2030-01-02T12:00:00Z"
    assert expiry("2w", now) == "2030-01-15T00:00:00Z"


def test_create_builds_the_manifest_from_the_flags() -> None:
    args = parser().parse_args(
        ["create", "docs", "--url", "https://example.com/", "--alias", "d", "--alias", "dd",
         "--slug", "team-docs", "--host", "go.example.com", "-n", "team"]
    )  # fmt: skip
    assert isinstance(args, argparse.Namespace)
    assert new_link(args) == {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "docs", "namespace": "team"},
        "spec": {
            "url": "https://example.com/",
            "slug": "team-docs",
            "aliases": ["d", "dd"],
            "host": "go.example.com",
        },
    }


def test_create_takes_a_target_instead_of_a_url() -> None:
    args = parser().parse_args(
        ["create", "grafana", "--target", "Ingress/grafana", "--target-path", "/d/x"]
    )
    assert isinstance(args, argparse.Namespace)
    assert new_link(args)["spec"] == {
        "targetRef": {"kind": "Ingress", "name": "grafana", "path": "/d/x"}
    }
    service = parser().parse_args(["create", "lb", "--target", "service/lb"])
    assert isinstance(service, argparse.Namespace)
    assert new_link(service)["spec"] == {"targetRef": {"kind": "Service", "name": "lb"}}


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "x"],
        ["create", "x", "--url", "https://e.com/", "--target", "service/x"],
        ["create", "x", "--target", "pod/x"],
        ["create", "x", "--target", "service"],
    ],
)
def test_create_needs_exactly_one_good_url_or_target(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2


def test_global_flags_work_before_and_after_the_command() -> None:
    before = parser().parse_args(["-n", "a", "--context", "c", "ls"])
    after = parser().parse_args(["ls", "-n", "a", "--context", "c"])
    assert (before.namespace, before.context) == (after.namespace, after.context) == ("a", "c")


def test_lookup_matches_like_a_request_and_puts_the_serving_owner_first() -> None:
    conflict = {"type": "Ready", "status": "False", "reason": "SlugConflict", "message": ""}
    links = [
        link("rival", namespace="a", slug="teamdocs", status={"conditions": [conflict]}),
        link("docs", namespace="b", slug="team-docs", status=published("team-docs")),
        link("other", namespace="c", slug="wiki", aliases=["team.docs.old"]),
        link("gen", namespace="d", generateSlug=True, status=published("k7hx2pq")),
    ]
    found = owners("Team_Docs", links, host=None)
    assert [(o.claim.owner, o.claim.role, o.serving) for o in found] == [
        ("b/docs", "slug", True),
        ("a/rival", "slug", False),
    ]
    assert [o.claim.role for o in owners("K7HX2PQ", links, host=None)] == ["generated"]


def test_lookup_by_host_counts_host_less_links() -> None:
    links = [
        link("any", slug="docs"),
        link("go", namespace="x", slug="docs", host="go.example.com"),
        link("other", namespace="y", slug="docs", host="links.example.com"),
    ]
    found = owners("docs", links, host="go.example.com")
    assert sorted(o.claim.owner for o in found) == ["team/any", "x/go"]


def test_holds_come_from_the_routing_tables_released_key() -> None:
    data = encode_entries(
        [],
        [
            Release(key="/teamdocs", namespace="a", name="gone", until="2030-01-01T00:05:00Z"),
            Release(
                key="go.example.com/wiki", namespace="b", name="w", until="2030-01-01T00:05:00Z"
            ),
        ],
    )
    shard = {"data": data}
    assert [r.name for r in holds("team-docs", [shard], host=None)] == ["gone"]
    assert [r.name for r in holds("wiki", [shard], host="links.example.com")] == []
    assert holds("x", [{"data": {"released.json": json.dumps("not a map")}}], host=None) == []


def test_a_link_by_target_ref_shows_its_resolved_url_or_the_object_it_names() -> None:
    def by_ref(status: dict[str, Any]) -> dict[str, Any]:
        body = link("grafana", status=status)
        body["spec"] = {"targetRef": {"kind": "Ingress", "name": "web", "namespace": "infra"}}
        return body

    resolved = by_ref(published("grafana", resolvedURL="https://grafana.example.com/"))
    waiting = by_ref({})
    table = rows([resolved, waiting], wide=False, namespaces=False)
    assert [row[2] for row in table[1:]] == ["https://grafana.example.com/", "Ingress/infra/web"]
