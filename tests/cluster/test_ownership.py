"""Many teams on one cluster: slug conflicts in either order, the grace period, namespace policy.

Every outcome is checked where a user sees it: the redirect, the `Ready` condition, and the
Events `kubectl describe` shows.
"""

import json
import time
from collections.abc import Iterator

import pytest

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, follow, not_served, served, shortlink


def event_reasons(cluster: Cluster, name: str, namespace: str) -> set[str]:
    listing = cluster.kubectl(
        "get",
        "events",
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "json",
        namespace=namespace,
    )
    return {item["reason"] for item in json.loads(listing.stdout)["items"]}


@pytest.mark.parametrize("owner_namespace_sorts", ["first", "last"])
def test_the_first_claim_keeps_the_slug_and_the_second_is_told_who_owns_it(
    cluster: Cluster, stack: Stack, unique: str, owner_namespace_sorts: str
) -> None:
    # The owner's namespace sorts before or after the newcomer's: creation order decides, not names.
    first, second = sorted([cluster.namespace, cluster.new_namespace()])
    if owner_namespace_sorts == "last":
        first, second = second, first
    slug = f"contested-{unique}"
    cluster.apply(shortlink("owner", "https://owner.example/", slug=slug), namespace=first)
    served(stack, slug, "https://owner.example/")
    cluster.apply(shortlink("newcomer", "https://newcomer.example/", slug=slug), namespace=second)

    condition = cluster.wait_reason("newcomer", "SlugConflict", namespace=second)
    assert condition["status"] == "False"
    assert f"already served by ShortLink {first}/owner" in condition["message"]
    assert follow(stack, slug) == (302, "https://owner.example/")
    cluster.wait_reason("owner", "Published", namespace=first)
    assert "SlugConflict" in event_reasons(cluster, "newcomer", second)
    assert "SlugContested" in event_reasons(cluster, "owner", first)


def test_links_created_while_the_operator_is_down_resolve_by_age_not_arrival(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"offline-{unique}"
    later = cluster.new_namespace()
    assert stack.operator is not None
    stack.operator.stop()
    try:
        cluster.apply(shortlink("elder", "https://elder.example/", slug=slug))
        # creationTimestamp has one-second resolution: make the ages differ.
        cluster.kubectl("wait", "--for=create", "--timeout=5s", "shortlink/elder")
        time.sleep(1.1)
        cluster.apply(shortlink("younger", "https://younger.example/", slug=slug), namespace=later)
    finally:
        stack.start_operator()
    served(stack, slug, "https://elder.example/", timeout=20)
    cluster.wait_reason("younger", "SlugConflict", namespace=later)


def test_an_owner_deleted_and_recreated_within_the_grace_period_keeps_its_slug(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    slug = f"replaced-{unique}"
    rival = cluster.new_namespace()
    owner = shortlink("owner", "https://owner.example/", slug=slug)
    cluster.apply(owner)
    served(stack, slug, "https://owner.example/")

    # A GitOps replace: delete, and re-create a moment later; a rival grabs the gap.
    cluster.kubectl("delete", "shortlink", "owner")
    cluster.apply(shortlink("rival", "https://rival.example/", slug=slug), namespace=rival)
    condition = cluster.wait_reason("rival", "SlugConflict", namespace=rival)
    assert f"held for ShortLink {cluster.namespace}/owner" in condition["message"]
    assert "grace period" in condition["message"]
    cluster.apply(owner)
    served(stack, slug, "https://owner.example/")
    cluster.wait_reason("owner", "Published")
    assert cluster.ready("rival", namespace=rival)["reason"] == "SlugConflict"

    # Deleted for good: after the grace period (3 s in these tests) the rival gets the slug.
    cluster.kubectl("delete", "shortlink", "owner")
    served(stack, slug, "https://rival.example/", timeout=15)
    cluster.wait_reason("rival", "Published", namespace=rival)


@pytest.fixture
def policy(cluster: Cluster, unique: str) -> Iterator[str]:
    """A ShortLinkPolicy for namespaces labelled with this test's team: slugs `team-<unique>-`."""
    name = f"team-{unique}"
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"shortlink.dev/team": unique}},
            "allowedSlugPrefixes": [f"team-{unique}-"],
        },
    }
    cluster.apply(json.dumps(body), namespace="")
    yield name
    cluster.kubectl("delete", "shortlinkpolicy", name, namespace=None)


def test_a_namespace_policy_refuses_slugs_outside_its_prefixes(
    cluster: Cluster, stack: Stack, unique: str, policy: str
) -> None:
    cluster.kubectl(
        "label", "namespace", cluster.namespace, f"shortlink.dev/team={unique}", namespace=None
    )
    cluster.apply(shortlink("allowed", "https://ok.example/", slug=f"team-{unique}-docs"))
    cluster.apply(shortlink("refused", "https://no.example/", slug=f"global-{unique}"))
    served(stack, f"team-{unique}-docs", "https://ok.example/")
    condition = cluster.wait_reason("refused", "PolicyViolation")
    assert condition["status"] == "False"
    assert f"ShortLinkPolicy {policy}" in condition["message"]
    assert follow(stack, f"global-{unique}")[0] == 404
    assert "PolicyViolation" in event_reasons(cluster, "refused", cluster.namespace)

    # The admin widens the policy: the link is served without being touched.
    cluster.kubectl(
        "patch",
        "shortlinkpolicy",
        policy,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"allowedSlugPrefixes": [f"team-{unique}-", f"global-{unique}"]}}),
        namespace=None,
    )
    served(stack, f"global-{unique}", "https://no.example/")
    cluster.wait_reason("refused", "Published")

    # The namespace leaves the team (its label removed): the policy no longer applies there.
    cluster.kubectl("label", "namespace", cluster.namespace, "shortlink.dev/team-", namespace=None)
    cluster.apply(shortlink("other", "https://other.example/", slug=f"other-{unique}"))
    served(stack, f"other-{unique}", "https://other.example/")


def test_a_policy_must_select_namespaces(cluster: Cluster, unique: str) -> None:
    body = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLinkPolicy",
        "metadata": {"name": f"nothing-{unique}"},
        "spec": {"allowedSlugPrefixes": ["x-"]},
    }
    result = cluster.apply(json.dumps(body), check=False)
    assert result.returncode != 0
    assert "a policy must select namespaces" in result.stderr


def test_a_violating_link_never_reaches_the_table(
    cluster: Cluster, stack: Stack, unique: str, policy: str
) -> None:
    cluster.kubectl(
        "label", "namespace", cluster.namespace, f"shortlink.dev/team={unique}", namespace=None
    )
    cluster.apply(shortlink("outside", "https://no.example/", slug=f"outside-{unique}"))
    cluster.wait_reason("outside", "PolicyViolation")
    not_served(stack, f"outside-{unique}")
