"""A ShortLink's life through the real operator and redirector: create, change, conflict, delete."""

import json
from datetime import UTC, datetime

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.table import FORMAT_VERSION, decode_manifest, shard_digest
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import (
    Cluster,
    eventually,
    follow,
    not_served,
    served,
    shortlink,
    table_shards,
)


def test_a_new_link_is_served_and_reports_ready(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"docs-{unique}", "https://example.com/docs"))
    served(stack, f"docs-{unique}", "https://example.com/docs")
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=10s", f"shortlink/docs-{unique}")
    status = cluster.get("shortlink", f"docs-{unique}")["status"]
    assert status["slug"] == f"docs-{unique}"
    assert status["shortURL"] == f"{stack.base_url}/docs-{unique}"
    assert status["observedGeneration"] == 1
    ready = cluster.ready(f"docs-{unique}")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "True",
        "Published",
        1,
    )


def test_an_explicit_slug_and_code_are_served(cluster: Cluster, stack: Stack, unique: str) -> None:
    cluster.apply(
        shortlink(
            f"named-{unique}", "https://example.com/x?q=1", slug=f"x-{unique}", redirectCode=308
        )
    )
    served(stack, f"x-{unique}", "https://example.com/x?q=1", code=308)
    assert follow(stack, f"named-{unique}")[0] == 404  # the slug replaces the name


def test_changing_the_url_serves_the_new_target(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"moving-{unique}", "https://old.example/"))
    served(stack, f"moving-{unique}", "https://old.example/")
    cluster.apply(shortlink(f"moving-{unique}", "https://new.example/", redirectCode=307))
    served(stack, f"moving-{unique}", "https://new.example/", code=307)
    eventually(lambda: _assert_observed(cluster, f"moving-{unique}", 2))


def _assert_observed(cluster: Cluster, name: str, generation: int) -> None:
    status = cluster.get("shortlink", name)["status"]
    assert status["observedGeneration"] == generation
    assert status["conditions"][0]["observedGeneration"] == generation


def test_a_deleted_link_is_no_longer_served(cluster: Cluster, stack: Stack, unique: str) -> None:
    cluster.apply(shortlink(f"gone-{unique}", "https://example.com/"))
    served(stack, f"gone-{unique}", "https://example.com/")
    cluster.kubectl("delete", "shortlink", f"gone-{unique}", "--wait=true", "--timeout=10s")
    not_served(stack, f"gone-{unique}")
    assert f"gone-{unique}" not in _table_slugs(cluster, stack)
    assert f"/gone{unique}" not in _table(cluster, stack)


def test_international_targets_are_served_in_ascii(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"idn-{unique}", "https://bücher.example/straße?q=ä"))
    served(stack, f"idn-{unique}", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4")


def test_a_link_the_operator_finds_invalid_is_not_served_and_says_why(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    # The schema accepts this URL; the operator cannot turn its host into a DNS name.
    cluster.apply(shortlink(f"odd-{unique}", "https://bad..host.example/"))
    condition = cluster.wait_reason(f"odd-{unique}", "InvalidSpec")
    assert condition["status"] == "False"
    assert "not a valid host name" in condition["message"]
    assert follow(stack, f"odd-{unique}")[0] == 404


def test_two_links_with_one_slug_are_never_both_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"shared-{unique}"
    other = cluster.new_namespace()
    cluster.apply(shortlink("first", "https://first.example/", slug=slug))
    served(stack, slug, "https://first.example/")
    cluster.apply(shortlink("second", "https://second.example/", slug=slug), namespace=other)
    condition = cluster.wait_reason("second", "SlugConflict", namespace=other)
    assert condition["status"] == "False"
    assert f"ShortLink {cluster.namespace}/first" in condition["message"]
    assert cluster.get("shortlink", "second", namespace=other)["status"].get("shortURL") is None
    assert follow(stack, slug) == (302, "https://first.example/")
    cluster.wait_reason("first", "Published")

    # The owner goes away: the other link takes the slug over.
    cluster.kubectl("delete", "shortlink", "first")
    served(stack, slug, "https://second.example/")
    cluster.wait_reason("second", "Published", namespace=other)


def test_operator_adds_no_finalizer_or_annotation_to_links(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"clean-{unique}", "https://example.com/"))
    cluster.wait_reason(f"clean-{unique}", "Published")
    meta = cluster.get("shortlink", f"clean-{unique}")["metadata"]
    assert meta.get("finalizers") is None
    assert set(meta.get("annotations", {})) <= {"kubectl.kubernetes.io/last-applied-configuration"}


def test_the_table_lives_in_labelled_configmaps_in_the_operator_namespace(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    cluster.apply(shortlink(f"tabled-{unique}", "https://example.com/t"))
    cluster.wait_reason(f"tabled-{unique}", "Published")
    table = _table(cluster, stack)
    entry = table[f"/tabled{unique}"]  # filed under the match key: no separators
    # When the link last changed: kubectl's apply, as its managedFields say, in Unix seconds.
    shown = cluster.kubectl(
        "get", "shortlink", f"tabled-{unique}", "-o", "json", "--show-managed-fields"
    ).stdout
    fields = json.loads(shown)["metadata"]["managedFields"]
    applied = max(f["time"] for f in fields if not f.get("subresource"))  # status is no change
    changed = datetime.strptime(applied, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert entry == {
        "url": "https://example.com/t",
        "slug": f"tabled-{unique}",
        "namespace": cluster.namespace,
        "name": f"tabled-{unique}",
        "changed": int(changed.timestamp()),
    }

    def listed() -> None:  # the manifest, written last, lists every shard with its digest
        manifest = cluster.get("configmap", MANIFEST_NAME, namespace=stack.namespace)
        assert manifest["metadata"]["labels"]["shortlink.dev/routing-table"] == "manifest"
        shards = {item["metadata"]["name"]: item["data"] for item in table_shards(cluster, stack)}
        assert decode_manifest(manifest["data"]) == {
            name: shard_digest(data) for name, data in shards.items()
        }

    eventually(listed)


def _table(cluster: Cluster, stack: Stack) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = {}
    for item in table_shards(cluster, stack):
        assert item["data"]["format"] == FORMAT_VERSION
        assert item["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shortlink-operator"
        table.update(json.loads(item["data"]["routes.json"]))
    return table


def _table_slugs(cluster: Cluster, stack: Stack) -> set[str]:
    return {str(entry["slug"]) for entry in _table(cluster, stack).values()}
