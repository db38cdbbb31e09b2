"""What keeps working when parts fail: the API server away, restarts, a tampered table."""

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from shortlink_core.matching import match_key
from shortlink_core.table import FORMAT_VERSION, decode_released
from shortlink_localcluster import bulk
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.processes import wait_until
from shortlink_localcluster.stack import Stack, http_status
from tests.cluster.helpers import (
    Cluster,
    eventually,
    follow,
    no_namespace_leaving,
    served,
    shortlink,
    table_shards,
)


@pytest.fixture
def own_stack(control_plane: ControlPlane, stack: Stack) -> Iterator[Stack]:
    """A second redirector of `stack`'s table (and no operator of its own), for tests that stop
    things."""
    own = Stack(control_plane, namespace=stack.namespace)
    yield own
    own.stop()


@pytest.mark.local_control_plane("it stops the API server (and starts it again)")
def test_redirector_keeps_serving_while_the_api_server_is_down(
    cluster: Cluster, stack: Stack, own_stack: Stack, control_plane: ControlPlane, unique: str
) -> None:
    cluster.apply(shortlink(f"steady-{unique}", "https://steady.example/"))
    served(stack, f"steady-{unique}", "https://steady.example/")
    own_stack.start_redirector()
    served(own_stack, f"steady-{unique}", "https://steady.example/")

    control_plane.stop_apiserver()
    try:
        for redirector in (stack, own_stack):
            for _ in range(20):
                assert follow(redirector, f"steady-{unique}") == (302, "https://steady.example/")
            assert http_status(f"{redirector.base_url}/readyz") == 200
    finally:
        control_plane.start_apiserver()

    # Once the API server is back, changes flow again.
    cluster.apply(shortlink(f"after-{unique}", "https://after.example/"))
    served(own_stack, f"after-{unique}", "https://after.example/", timeout=30)


@pytest.mark.local_control_plane(
    "it starts a redirector while the API server is stopped (and starts it again)"
)
def test_redirector_is_not_ready_until_it_has_loaded_a_table(
    stack: Stack, own_stack: Stack, control_plane: ControlPlane
) -> None:
    control_plane.stop_apiserver()
    try:
        redirector = own_stack._python(  # started by hand: start_redirector waits for readiness
            "redirector-cold",
            "shortlink_redirector",
            "--namespace",
            own_stack.namespace,
            "--host",
            own_stack.host,
            "--port",
            str(own_stack.port),
            "--metrics-host",
            own_stack.host,
            "--metrics-port",
            str(own_stack.metrics_port),
        )
        own_stack.redirector = redirector
        wait_until(
            lambda: http_status(f"{own_stack.base_url}/healthz") == 200, timeout=20, what="liveness"
        )
        assert http_status(f"{own_stack.base_url}/readyz") == 503
        # A link may well exist: until the table is loaded it is "unavailable", never "not found".
        response = httpx.get(f"{own_stack.base_url}/any-link", timeout=5)
        assert (response.status_code, response.headers.get("retry-after")) == (503, "1")
    finally:
        control_plane.start_apiserver()
    wait_until(
        lambda: http_status(f"{own_stack.base_url}/readyz") == 200, timeout=30, what="readiness"
    )


def test_an_operator_restart_over_unchanged_links_writes_nothing(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    for i in range(3):
        cluster.apply(shortlink(f"still-{i}-{unique}", f"https://still.example/{i}"))
    for i in range(3):
        cluster.wait_reason(f"still-{i}-{unique}", "Published")
    no_namespace_leaving(cluster.control_plane)
    eventually(lambda: _assert_no_gone_namespace_in_table(cluster, stack), timeout=30)
    before = _versions(cluster, stack)

    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator()
    eventually(lambda: _assert_published_once(stack), timeout=20)

    assert _versions(cluster, stack) == before


def test_a_tampered_shard_is_repaired_and_never_served(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"guarded-{unique}"
    cluster.apply(shortlink(slug, "https://guarded.example/"))
    served(stack, slug, "https://guarded.example/")
    shard = _shard_of(cluster, stack, slug)
    evil = {
        "data": {
            "format": FORMAT_VERSION,
            "routes.json": json.dumps({slug: {"url": "javascript:alert(1)"}}),
        }
    }
    cluster.kubectl(
        "patch",
        "configmap",
        shard,
        "--type=merge",
        "-p",
        json.dumps(evil),
        namespace=stack.namespace,
    )

    # The redirector refuses the bad entry and keeps the rest; the operator restores the shard.
    def repaired() -> None:
        assert f"/{match_key(slug)}" in json.loads(
            cluster.get("configmap", shard, namespace=stack.namespace)["data"]["routes.json"]
        )
        assert (
            "javascript"
            not in cluster.get("configmap", shard, namespace=stack.namespace)["data"]["routes.json"]
        )

    eventually(repaired, timeout=15)
    served(stack, slug, "https://guarded.example/")


def test_a_deleted_shard_is_recreated(cluster: Cluster, stack: Stack, unique: str) -> None:
    slug = f"recreated-{unique}"
    cluster.apply(shortlink(slug, "https://recreated.example/"))
    served(stack, slug, "https://recreated.example/")
    cluster.kubectl(
        "delete", "configmap", _shard_of(cluster, stack, slug), namespace=stack.namespace
    )
    served(stack, slug, "https://recreated.example/", timeout=15)


def _assert_published_once(stack: Stack) -> None:
    health = httpx.get(stack.operator_health_url, timeout=2).json()
    assert health.get("lastPublished") is not None


def _assert_no_gone_namespace_in_table(cluster: Cluster, stack: Stack) -> None:
    """The table holds no link of a namespace gone, nor a slug held for one (a deleted owner's,
    for the grace period): the table writes for the namespaces earlier tests deleted (external
    mode deletes them, without waiting) are all done. A local control plane deletes none."""
    listed = json.loads(cluster.kubectl("get", "namespaces", "-o", "json", namespace=None).stdout)
    present = {item["metadata"]["name"] for item in listed["items"]}
    shards = asyncio.run(bulk.table(cluster.control_plane, stack.namespace))
    served = {entry["namespace"] for entry in bulk.routes(shards).values()}
    held = {hold.namespace for data in shards.values() for hold in decode_released(data)}
    gone = (served | held) - present
    assert not gone, f"the table still holds links or slugs of {sorted(gone)}"


def _versions(cluster: Cluster, stack: Stack) -> dict[str, str]:
    """resourceVersion of every ShortLink and shard: any write changes one."""
    links = json.loads(
        cluster.kubectl("get", "shortlinks", "-A", "-o", "json", namespace=None).stdout
    )
    shards = json.loads(
        cluster.kubectl("get", "configmaps", "-o", "json", namespace=stack.namespace).stdout
    )
    return {
        f"{item['kind']}/{item['metadata'].get('namespace')}/{item['metadata']['name']}": item[
            "metadata"
        ]["resourceVersion"]
        for item in links["items"] + shards["items"]
    }


def _shard_of(cluster: Cluster, stack: Stack, slug: str) -> str:
    for item in table_shards(cluster, stack):
        if f"/{match_key(slug)}" in json.loads(item["data"]["routes.json"]):
            return str(item["metadata"]["name"])
    raise AssertionError(f"{slug} is in no shard")
