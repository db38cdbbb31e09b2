"""The shipped Argo CD and Flux health checks on statuses written by the real operator.

Each state is produced for real (the API server, the operator and its routing table), read back
with kubectl, and judged by the Lua and the CEL exactly as shipped (tests/healthchecks.py).
"""

import json
from collections.abc import Iterator

import pytest

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, shortlink
from tests.healthchecks import argo_health, flux_health


@pytest.fixture
def policy(cluster: Cluster) -> Iterator[str]:
    """A ShortLinkPolicy for the test's namespace only (not enforced at apply time)."""
    name = f"health-{cluster.namespace}"[:63]
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaces": [cluster.namespace],
            "allowedSlugPrefixes": [f"{cluster.namespace}-"],
        },
    }
    cluster.apply(json.dumps(body), namespace="default")
    yield name
    cluster.kubectl("delete", "shortlinkpolicy", name, namespace=None)


@pytest.mark.parametrize(
    ("spec", "reason", "argo", "flux"),
    [
        ({}, "Published", "Healthy", "Current"),
        ({"suspended": True}, "Suspended", "Healthy", "Current"),
        ({"activeFrom": "2099-01-01T00:00:00Z"}, "Scheduled", "Healthy", "Current"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "Expired", "Healthy", "Current"),
        ({"url": "https://bad..host/"}, "InvalidSpec", "Degraded", "Failed"),
        ({"slug": "elsewhere"}, "PolicyViolation", "Degraded", "Failed"),
        ({"slug": "{ns}-taken"}, "SlugConflict", "Degraded", "Failed"),
    ],
)
def test_real_statuses_read_as_intended(
    cluster: Cluster,
    stack: Stack,
    policy: str,
    spec: dict[str, object],
    reason: str,
    argo: str,
    flux: str,
) -> None:
    ns = cluster.namespace
    cluster.apply(shortlink("owner", "https://example.com/o", slug=f"{ns}-taken"))
    cluster.wait_reason("owner", "Published")
    fields = {"slug": f"{ns}-link"} | {
        k: str(v).replace("{ns}", ns) if isinstance(v, str) else v for k, v in spec.items()
    }
    url = str(fields.pop("url", "https://example.com/"))
    cluster.apply(shortlink("link", url, **fields))
    cluster.wait_reason("link", reason)
    body = cluster.get("shortlink", "link")
    assert argo_health(body)[0] == argo
    assert flux_health(body) == flux


def test_a_link_the_operator_has_not_seen_is_progressing(cluster: Cluster) -> None:
    """What the API server returns for a new link, before any operator has written a status."""
    created = cluster.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-",
        stdin=shortlink("fresh", "https://example.com/"),
    )  # fmt: skip
    body = json.loads(created.stdout)
    assert "status" not in body
    assert argo_health(body)[0] == "Progressing"
    assert flux_health(body) == "InProgress"
