"""The create-rate benchmark compares like with like: each ConfigMap's body is exactly as many
bytes as the ShortLink's it stands beside, so the ratio measures the CRD's validation only."""

import json

from bench.create_rate import configmaps_like, shortlinks


def test_each_configmap_is_the_size_of_its_shortlink() -> None:
    links = list(shortlinks(200, "r0"))
    configmaps = list(configmaps_like(iter(links)))
    assert [len(json.dumps(c)) for c in configmaps] == [len(json.dumps(s)) for s in links]
    assert [c["metadata"]["name"] for c in configmaps] == [s["metadata"]["name"] for s in links]
    assert {c["kind"] for c in configmaps} == {"ConfigMap"}
