"""The table knows whether it is complete: a hand-deleted or garbled shard on the real API server.

Each test runs an operator of its own with a resync of an hour, so whatever is repaired within
seconds here was repaired by the operator's watch on its own table, not by the resync. A deleted
shard keeps being served by every redirector (the manifest still lists it) until it is restored;
a redirector that starts while a shard is garbage is not ready, and becomes ready once the shard
is repaired.
"""

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shortlink_core.api import MANIFEST_NAME
from shortlink_core.matching import match_key
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.processes import wait_until
from shortlink_localcluster.stack import Stack, http_status
from tests.cluster.conftest import delete_external_namespaces
from tests.cluster.helpers import (
    Cluster,
    eventually,
    follow,
    no_namespace_leaving,
    served,
    shortlink,
    table_shards,
)

#: No resync within a test: a repair can only come from the operator's watch on its table.
NO_RESYNC = ("--resync-seconds", "3600")


@pytest.fixture
def own(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Stack]:
    """An operator (resyncing hourly) and a redirector, with a table namespace of their own,
    started once no link is leaving the cluster any more (external mode deletes earlier tests'
    namespaces without waiting): only this test's changes make this operator write."""
    no_namespace_leaving(control_plane)
    stack = Stack(
        control_plane,
        namespace=f"table-{secrets.token_hex(3)}",
        operator_args=NO_RESYNC,
        log_dir=tmp_path,
    )
    stack.start()
    yield stack
    stack.stop()
    delete_external_namespaces(control_plane, [stack.namespace])


@pytest.fixture
def late(control_plane: ControlPlane, own: Stack, tmp_path: Path) -> Iterator[Stack]:
    """A second redirector on `own`'s table, started by the test (not waiting for readiness)."""
    stack = Stack(control_plane, namespace=own.namespace, log_dir=tmp_path)
    yield stack
    stack.stop()


def metric(url: str, name: str) -> float:
    """The value of an unlabelled sample from a /metrics page."""
    value = metric_or_none(url, name)
    assert value is not None, f"{name} not exported at {url}"
    return value


def metric_or_none(url: str, name: str) -> float | None:
    text = httpx.get(url, timeout=2).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    return None


def shard_of(cluster: Cluster, stack: Stack, slug: str) -> dict[str, object]:
    for item in table_shards(cluster, stack):
        if f"/{match_key(slug)}" in json.loads(item["data"]["routes.json"]):
            return item
    raise AssertionError(f"{slug} is in no shard")


def data_of(cluster: Cluster, stack: Stack, name: str) -> dict[str, str] | None:
    result = cluster.kubectl(
        "get", "configmap", name, "-o", "json", namespace=stack.namespace, check=False
    )
    if result.returncode != 0:
        return None
    data: dict[str, str] = json.loads(result.stdout).get("data") or {}
    return data


def serves_until(stack: Stack, slug: str, url: str, restored: object, *, timeout: float) -> int:
    """Follow `slug` again and again until `restored()` holds; every answer must be the redirect.

    Returns how many requests were answered while waiting.
    """
    started = time.monotonic()
    answered = 0
    while True:
        for _ in range(10):  # a few redirects between two (slower) looks at the table
            assert follow(stack, slug) == (302, url), f"after {answered} good answers"
            answered += 1
        if restored():  # type: ignore[operator]
            print(f"restored after {time.monotonic() - started:.2f} s, {answered} redirects")
            return answered
        assert time.monotonic() < started + timeout, "not restored in time"


@pytest.mark.parametrize("what", ["shard", "manifest"])
def test_a_deleted_table_configmap_is_served_through_and_restored_at_once(
    cluster: Cluster, own: Stack, unique: str, what: str
) -> None:
    slug, url = f"kept-{unique}", "https://kept.example/"
    cluster.apply(shortlink(slug, url))
    served(own, slug, url)
    shard = shard_of(cluster, own, slug)
    name = shard["metadata"]["name"] if what == "shard" else MANIFEST_NAME  # type: ignore[index]
    before = data_of(cluster, own, name)
    assert before is not None
    repairs = metric_or_none(own.operator_metrics_url, "shortlink_operator_table_repairs_total")

    cluster.kubectl("delete", "configmap", name, namespace=own.namespace)
    serves_until(own, slug, url, lambda: data_of(cluster, own, name) == before, timeout=10)

    # One repair, for the one change made by hand: the operator's own writes before it (the
    # link's shard and the manifest) and after it (the restored object) are not drift.
    served(own, slug, url)
    assert repairs is not None
    assert metric(own.operator_metrics_url, "shortlink_operator_table_repairs_total") == (
        repairs + 1
    )


def test_a_hand_edited_shard_is_restored_at_once(cluster: Cluster, own: Stack, unique: str) -> None:
    slug, url = f"edited-{unique}", "https://edited.example/"
    cluster.apply(shortlink(slug, url))
    served(own, slug, url)
    shard = shard_of(cluster, own, slug)
    name = str(shard["metadata"]["name"])  # type: ignore[index]
    before = data_of(cluster, own, name)
    edit = {"data": {"routes.json": "{}"}}
    cluster.kubectl(
        "patch", "configmap", name, "--type=merge", "-p", json.dumps(edit), namespace=own.namespace
    )
    eventually(lambda: _equal(data_of(cluster, own, name), before), timeout=10)
    served(own, slug, url)


def _equal(actual: object, expected: object) -> None:
    assert actual == expected


def test_a_redirector_started_while_a_shard_is_garbage_is_ready_only_once_it_is_repaired(
    cluster: Cluster, own: Stack, late: Stack, unique: str
) -> None:
    slug, url = f"garbled-{unique}", "https://garbled.example/"
    cluster.apply(shortlink(slug, url))
    served(own, slug, url)
    name = str(shard_of(cluster, own, slug)["metadata"]["name"])  # type: ignore[index]

    # A redirector serves a shard as soon as it is written, before the manifest that confirms it:
    # stop the operator only once its pass is whole, so the garbled shard is the only one amiss.
    def confirmed() -> None:
        assert metric(own.metrics_url, "shortlink_table_shards_unconfirmed") == 0

    eventually(confirmed)
    assert own.operator is not None
    own.operator.stop()  # nobody repairs the shard until the operator is back
    garbage = {"data": {"routes.json": "{not json"}}
    cluster.kubectl(
        "patch",
        "configmap",
        name,
        "--type=merge",
        "-p",
        json.dumps(garbage),
        namespace=own.namespace,
    )

    late.redirector = late._python(  # started by hand: start_redirector waits for readiness
        "redirector-late",
        "shortlink_redirector",
        *("--namespace", late.namespace, "--host", late.host, "--port", str(late.port)),
        *("--metrics-host", late.host, "--metrics-port", str(late.metrics_port)),
    )
    wait_until(lambda: http_status(f"{late.base_url}/healthz") == 200, timeout=20, what="liveness")

    def read_the_garbage() -> None:
        assert metric(late.metrics_url, "shortlink_table_load_failures_total") >= 1

    eventually(read_the_garbage, timeout=10)
    assert http_status(f"{late.base_url}/readyz") == 503
    assert metric(late.metrics_url, "shortlink_table_loaded") == 0
    assert metric(late.metrics_url, "shortlink_table_shards_unconfirmed") == 1
    # The redirector that had the shard keeps serving its last good copy, and stays ready.
    assert follow(own, slug) == (302, url)
    assert http_status(f"{own.base_url}/readyz") == 200

    own.start_operator()  # its first pass rewrites the garbled shard
    wait_until(lambda: http_status(f"{late.base_url}/readyz") == 200, timeout=20, what="readiness")
    assert follow(late, slug) == (302, url)
    assert metric(late.metrics_url, "shortlink_table_shards_unconfirmed") == 0
