"""One tenant cannot halt publishing: shard budgets, per-link size, and a shard the API refuses.

On the real API server with the session's operator (64 shards of 256 KiB): the CRD refuses
longer lists; a served link that grows past what one link may take, or past the room left in its
shard, keeps serving what it last published and says why; and a shard the API server refuses to
write (a ValidatingAdmissionPolicy standing in for any webhook or 422) holds up no other shard and
no other status.
"""

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shortlink_core.matching import routing_key
from shortlink_core.table import shard_index, shard_name
from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, follow, served, shortlink, table_shards

SHARDS = 64
BUDGET = 256 * 1024


def shard_of(slug: str) -> int:
    return shard_index(routing_key("", slug), SHARDS)


def slugs_in(shard: int, prefix: str, count: int) -> list[str]:
    """`count` slugs starting with `prefix` that all fall in `shard`."""
    found = (f"{prefix}-{i}" for i in range(100_000))
    return list(itertools.islice((s for s in found if shard_of(s) == shard), count))


def rules_of(size: int, tag: str) -> list[dict[str, Any]]:
    """Rules whose split arms add about `size` bytes to a link's table entry (at most 32 arms)."""
    arms = max(1, min(32, size // 1900))
    length = max(10, size // arms - 40)
    return [
        {
            "when": {"query": {"name": "v", "values": [str(r)]}},
            "split": [
                {"weight": 1, "url": f"https://{tag}.example/{r}/{a}/" + "x" * length}
                for a in range(r * 4, min(arms, r * 4 + 4))
            ],
        }
        for r in range((arms + 3) // 4)
    ]


def patch(cluster: Cluster, tmp_path: Path, name: str, spec: dict[str, Any]) -> None:
    """A merge patch of the spec, from a file: these are too big for a command-line argument."""
    body = tmp_path / f"{name}.json"
    body.write_text(json.dumps({"spec": spec}))
    cluster.kubectl("patch", "shortlink", name, "--type=merge", "--patch-file", str(body))


def data_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in (item.get("data") or {}).items())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"aliases": [f"a{i}" for i in range(9)]},
            "spec.aliases: Too many: 9: must have at most 8",
        ),
        (
            {"rules": [{"url": "https://e.com/"}] * 9},
            "spec.rules: Too many: 9: must have at most 8",
        ),
        (
            {"rules": [{"split": [{"url": f"https://e.com/{i}"} for i in range(5)]}]},
            "spec.rules[0].split: Too many: 5: must have at most 4",
        ),
    ],
)
def test_longer_lists_are_refused_at_apply_time(
    cluster: Cluster, spec: dict[str, Any], message: str
) -> None:
    result = cluster.apply(shortlink("long", "https://example.com/", **spec), check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_served_link_grown_past_the_per_link_limit_keeps_serving_and_says_why(
    cluster: Cluster, stack: Stack, unique: str, tmp_path: Path
) -> None:
    # The reproduction: a Ready link with 4 aliases, all in one shard, patched to many long URLs.
    name = f"grow-{unique}"
    [slug, *aliases] = slugs_in(shard_of(name), name, 5)
    cluster.apply(shortlink(name, "https://old.example/", slug=slug, aliases=aliases))
    served(stack, slug, "https://old.example/")
    cluster.wait_reason(name, "Published")

    patch(cluster, tmp_path, name, {"url": "https://new.example/", "rules": rules_of(64_000, "g")})

    ready = cluster.wait_reason(name, "CapacityExceeded")
    assert (ready["status"], ready["observedGeneration"]) == ("False", 2)
    assert shard_name(shard_of(slug)) in ready["message"]
    assert "bytes" in ready["message"]
    assert "still served" in ready["message"]
    status = cluster.get("shortlink", name)["status"]
    assert (status["observedGeneration"], status["slug"], sorted(status["aliases"])) == (
        2,
        slug,
        sorted(aliases),
    )
    for each in (slug, *aliases):  # nothing served is lost
        assert follow(stack, each) == (302, "https://old.example/")
    assert all(data_size(item) <= BUDGET for item in table_shards(cluster, stack))

    # Publishing goes on for everyone else, in every shard.
    later = [f"later-{unique}-{i}" for i in range(4)]
    for each in later:
        cluster.apply(shortlink(each, f"https://later.example/{each}"))
    for each in later:
        served(stack, each, f"https://later.example/{each}")
        cluster.wait_reason(each, "Published")

    # Back within the limit, the new generation is published.
    patch(cluster, tmp_path, name, {"url": "https://small.example/", "rules": None})
    served(stack, slug, "https://small.example/")
    ready = cluster.wait_reason(name, "Published")
    assert ready["observedGeneration"] == 3


def test_a_served_link_grown_past_the_room_in_its_shard_keeps_serving_it(
    cluster: Cluster, stack: Stack, unique: str, tmp_path: Path
) -> None:
    shard = shard_of(f"room-{unique}")
    [grow, *fill] = slugs_in(shard, f"room-{unique}", 6)
    try:
        # The oldest link, then four of about 50 KB and one of 35 KB: some 235 KB of 256 KiB.
        cluster.apply(shortlink(grow, "https://grow.example/", rules=rules_of(20_000, "grow-v1")))
        cluster.wait_reason(grow, "Published")
        for each, size in zip(fill, [50_000] * 4 + [35_000], strict=True):
            cluster.apply(shortlink(each, f"https://{each}.example/", rules=rules_of(size, each)))
        for each in fill:
            cluster.wait_reason(each, "Published", timeout=20)

        # 40 KB more for `grow`: within what one link may take, beyond the room in the shard.
        patch(cluster, tmp_path, grow, {"rules": rules_of(60_000, "grow-v2")})
        ready = cluster.wait_reason(grow, "CapacityExceeded")
        assert ready["observedGeneration"] == 2
        assert f"routing-table shard {shard_name(shard)}, which has" in ready["message"]
        [item] = [
            i for i in table_shards(cluster, stack) if i["metadata"]["name"] == shard_name(shard)
        ]
        assert data_size(item) <= BUDGET
        routes = json.loads(item["data"]["routes.json"])
        assert "grow-v1.example" in json.dumps(
            routes[routing_key("", grow)]
        )  # still the old generation
        for each in fill:
            assert cluster.ready(each)["reason"] == "Published"
    finally:
        cluster.kubectl("delete", "shortlinks", "--all", "--wait=false")


@pytest.fixture
def frozen_shard(cluster: Cluster, stack: Stack, unique: str) -> Iterator[str]:
    """A ValidatingAdmissionPolicy that denies every write of one routing-table shard."""
    shard = shard_name(shard_of(f"frozen-{unique}"))
    name = f"freeze-{unique}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": f"!(object.metadata.name == '{shard}' && "
                    f"request.namespace == '{stack.namespace}')",
                    "message": f"{shard} is frozen by a test",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    for manifest in (policy, binding):
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), namespace=None)

    def denying() -> None:  # the policy takes effect a moment after it is created
        result = cluster.kubectl(
            "create", "configmap", shard, "--dry-run=server", check=False, namespace=stack.namespace
        )
        assert "frozen by a test" in result.stderr, result.stderr

    eventually(denying, timeout=30, interval=0.5)
    yield shard
    for kind in ("validatingadmissionpolicybinding", "validatingadmissionpolicy"):
        cluster.kubectl("delete", kind, name, "--ignore-not-found", namespace=None)


def test_a_shard_the_api_server_refuses_holds_up_no_other_shard_or_status(
    cluster: Cluster, stack: Stack, frozen_shard: str, unique: str
) -> None:
    blocked = f"frozen-{unique}"
    free = [
        s
        for s in (f"free-{unique}-{i}" for i in range(20))
        if shard_name(shard_of(s)) != frozen_shard
    ][:3]
    cluster.apply(shortlink(blocked, "https://blocked.example/"))
    for slug in free:
        cluster.apply(shortlink(slug, f"https://free.example/{slug}"))
    for slug in free:
        served(stack, slug, f"https://free.example/{slug}")
        cluster.wait_reason(slug, "Published")
    # The link in the refused shard is not served, and no status claims it is.
    assert follow(stack, blocked)[0] == 404
    assert cluster.ready(blocked) == {}

    for kind in ("validatingadmissionpolicybinding", "validatingadmissionpolicy"):
        cluster.kubectl("delete", kind, f"freeze-{unique}", namespace=None)
    served(stack, blocked, "https://blocked.example/", timeout=45)
    cluster.wait_reason(blocked, "Published")
