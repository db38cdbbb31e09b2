"""Deleted means gone, even when the operator's watch missed the deletion.

A real watch gap on the real API server: the operator is paused (SIGSTOP) while a ShortLink and a
ShortLinkPolicy are deleted, etcd is compacted past the operator's last resourceVersion, and the
API server is restarted, so when the operator resumes its watches get "410 Gone" and kopf lists
again, which yields only what still exists and no DELETED event. Within one resync the deleted
link is no longer served nor in the table, and the link the deleted policy held back is served.
"""

import base64
import json
import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from shortlink_core.matching import match_key
from shortlink_localcluster.controlplane import ControlPlane
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, not_served, served, shortlink, table_shards

pytestmark = pytest.mark.local_control_plane(
    "it compacts etcd (through etcd's own port, which no cluster exposes to its clients) and "
    "restarts the API server, twice"
)


def compact_etcd(control_plane: ControlPlane) -> int:
    """Compact etcd up to its current revision (through its v3 HTTP gateway); return it."""
    base = f"http://127.0.0.1:{control_plane.etcd_port}/v3"
    key = base64.b64encode(b"/").decode()
    revision = int(httpx.post(f"{base}/kv/range", json={"key": key}).json()["header"]["revision"])
    answer = httpx.post(f"{base}/kv/compaction", json={"revision": revision, "physical": True})
    assert answer.status_code == 200, answer.text
    return revision


@pytest.fixture
def paused(stack: Stack) -> Iterator[int]:
    """Pause the operator for the test's gap; always resume it."""
    assert stack.operator is not None
    pid = stack.operator.pid
    yield pid
    os.kill(pid, signal.SIGCONT)


def in_table(cluster: Cluster, stack: Stack, slug: str) -> bool:
    return any(
        f"/{match_key(slug)}" in json.loads(item["data"]["routes.json"])
        for item in table_shards(cluster, stack)
    )


def test_a_link_and_a_policy_deleted_during_a_watch_gap_are_forgotten(
    cluster: Cluster, stack: Stack, control_plane: ControlPlane, paused: int, unique: str
) -> None:
    doomed, kept, held = f"doomed-{unique}", f"kept-{unique}", f"held-{unique}"
    policy = f"gap-{unique}"
    manifest = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": policy},
        "spec": {"namespaces": [cluster.namespace], "allowedSlugPrefixes": ["kept-"]},
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), namespace=None)
    try:
        cluster.apply(shortlink(doomed, "https://doomed.example/", slug=f"kept-{doomed}"))
        cluster.apply(shortlink(kept, "https://kept.example/"))
        cluster.apply(shortlink(held, "https://held.example/"))
        served(stack, f"kept-{doomed}", "https://doomed.example/")
        served(stack, kept, "https://kept.example/")
        cluster.wait_reason(held, "PolicyViolation")

        # Paused, and cut off (the API server's restart closes its watches), the operator
        # misses both deletions; etcd forgets them (compaction), and so does the API server's
        # watch cache (a second restart): its watches resume from a resourceVersion long gone.
        os.kill(paused, signal.SIGSTOP)
        control_plane.stop_apiserver()
        control_plane.start_apiserver()
        cluster.kubectl("delete", "shortlink", doomed)
        cluster.kubectl("delete", "shortlinkpolicy", policy, namespace=None)
        compact_etcd(control_plane)
        control_plane.stop_apiserver()
        control_plane.start_apiserver()
        os.kill(paused, signal.SIGCONT)

        # Within one resync (2 s here) and the API server's return: gone from the table and the
        # redirector, and the policy's refusal lifted.
        not_served(stack, f"kept-{doomed}", timeout=30)
        assert not in_table(cluster, stack, f"kept-{doomed}")
        served(stack, held, "https://held.example/", timeout=15)
        cluster.wait_reason(held, "Published")
        served(stack, kept, "https://kept.example/")
        # It was a real gap: kopf listed again (after a 410), and the operator noticed.
        operator = stack.operator
        assert operator is not None

        def noticed() -> None:
            log = operator.log_path.read_text()
            assert "kopf listed shortlinks again after a watch gap" in log
            assert "forgot objects deleted while the watch was away" in log

        eventually(noticed, timeout=15, interval=0.2)
    finally:
        cluster.kubectl("delete", "shortlinkpolicy", policy, "--ignore-not-found", namespace=None)
