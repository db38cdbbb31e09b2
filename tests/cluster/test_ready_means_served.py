# ruff: noqa: RUF001 - look-alike characters are part of what is generated
"""Ready means served: a few hundred generated targets through the API server, operator, redirector.

Hypothesis generates one fixed (derandomized) batch of links: plain valid targets, borderline
ones (non-ASCII paths around the 2048-byte limit once percent-encoded, international hosts,
default ports) and hostile ones (the mutations of `tests.strategies`). Every link the API server
accepts must end up `Ready=True` and served by the real redirector with exactly its WHATWG form,
or not Ready and not served; a link the CRD refuses is not served either.
"""

import json
from typing import Any

import ada_url
from hypothesis import strategies as st

from shortlink_localcluster.stack import Stack
from tests.cluster.helpers import Cluster, eventually, follow, shortlink
from tests.strategies import LABELS, batch, mutated_urls

LINKS = 300
BASE = "https://example.com/"

valid_urls = st.builds(
    lambda label, path: f"https://{label}.example/{path}",
    LABELS,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüéß0123456789-._~/?=&", max_size=60),
)
#: Around the limit: "é" is 6 bytes once encoded, so 338 fit (2048 bytes) and 339 do not.
long_urls = st.integers(330, 346).map(lambda n: BASE + "é" * n)
urls = st.one_of(valid_urls, long_urls, mutated_urls()).map(
    lambda url: url.replace("{", "(").replace("}", ")")  # templates are tested elsewhere
)


def fixed(base_url: str) -> list[str]:
    """Cases from issue 11 and the README, next to the generated ones."""
    return [
        BASE + "é" * 343,  # 363 characters, 2,078 bytes once encoded
        "https://faß.de/",
        "https://example.com:443/",
        "https://ｅｘａｍｐｌｅ.com/",
        "https://example.com\\.evil.com/",
        "https://evil.com%00.example.com/",
        "https://ex%C3%A4mple.com/",
        "https://ex\u200bample.com/",
        "https://exa\u034fmple.com/",
        "http://0x7f.1/",
        "http://2130706433/",
        f"{base_url}/loop",  # back at the shortener itself
    ]


def apply_all(cluster: Cluster, names: list[str], targets: list[str]) -> None:
    items = [
        {
            "apiVersion": "shortlink.dev/v1alpha1",
            "kind": "ShortLink",
            "metadata": {"name": name},
            "spec": {"url": url},
        }
        for name, url in zip(names, targets, strict=True)
    ]
    # kubectl applies every item and reports the ones the API server refused (CEL) at the end.
    cluster.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), check=False)


def settled(cluster: Cluster, expected: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", "sl", "-o", "json").stdout)[
        "items"
    ]
    assert len(items) == expected
    for item in items:
        status = item.get("status") or {}
        assert status.get("observedGeneration") == item["metadata"]["generation"], item
        assert any(c["type"] == "Ready" for c in status.get("conditions", [])), item
    return items


def is_ready(item: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"])


def test_every_ready_link_is_served_with_its_target_and_no_other_link_is(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    generated = batch(urls, LINKS)
    assert len(generated) == LINKS
    targets = fixed(stack.base_url) + generated
    names = [f"t{index}-{unique}" for index in range(len(targets))]
    apply_all(cluster, names, targets)
    created = {
        item["metadata"]["name"]: item
        for item in json.loads(cluster.kubectl("get", "sl", "-o", "json").stdout)["items"]
    }
    items = eventually(lambda: settled(cluster, len(created)), timeout=60)
    ready = {item["metadata"]["name"] for item in items if is_ready(item)}
    by_name = dict(zip(names, targets, strict=True))
    # The batch holds every kind of case, so the test cannot pass on one kind alone.
    assert len(ready) >= 60
    assert len(created) - len(ready) >= 20
    assert len(targets) - len(created) >= 20

    def every_ready_link_served() -> None:
        wrong = {}
        for name in ready:
            # What a browser makes of the target as written: the exact Location expected.
            sent = ada_url.parse_url(by_name[name])["href"]
            answer = follow(stack, name)
            if answer != (302, sent):
                wrong[name] = (by_name[name], answer)
        assert not wrong, wrong

    eventually(every_ready_link_served, timeout=30)
    served_anyway = {
        name: (by_name[name], answer)
        for name in names
        if name not in ready and (answer := follow(stack, name))[0] != 404
    }
    assert not served_anyway


def test_a_target_back_at_the_shortener_is_never_published(
    cluster: Cluster, stack: Stack, unique: str
) -> None:
    host = f"go-{unique}.example"
    cluster.apply(shortlink(f"home-{unique}", f"{stack.base_url}/elsewhere"))
    cluster.apply(shortlink(f"hosted-{unique}", "https://example.com/", host=host))
    cluster.apply(shortlink(f"to-host-{unique}", f"https://{host.upper()}:8443/x"))
    for name in (f"home-{unique}", f"to-host-{unique}"):
        condition = cluster.wait_reason(name, "InvalidSpec")
        assert "points back at this shortener" in condition["message"]
        assert follow(stack, name)[0] == 404
    cluster.wait_reason(f"hosted-{unique}", "Published")
