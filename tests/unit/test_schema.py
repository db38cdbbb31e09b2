"""The CRD's structural schema applied offline: unknown fields, types, enums, sizes, required.

The rules are read from crds/; tests/cluster/test_lint_agrees.py checks that whatever the real
API server refuses, the lint refuses too.
"""

import tomllib
from typing import Any

import pytest

from shortlink_core.schema import CRD_FILE, crd_path, schema_errors
from shortlink_localcluster.stack import CRDS, REPO


def link(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "docs", "labels": {"a": "b"}, "annotations": {"x": "y"}},
        "spec": {"url": "https://example.com/", **spec},
        "status": {"anything": True},
    }


def test_a_valid_link_has_no_errors() -> None:
    body = link(
        aliases=["d"],
        redirectCode=301,
        utm={"source": "qr"},
        rules=[{"when": {"devices": ["Mobile"], "header": {"name": "X", "values": ["1"]}},
                "split": [{"weight": 1, "url": "https://a/"}]}],
    )  # fmt: skip
    assert schema_errors(body) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            link(aliasses=["d"]),
            "unknown field spec.aliasses (kubectl apply refuses it; "
            "`kubectl explain shortlink.spec` lists the fields)",
        ),
        (
            link(rules=[{"url": "https://a/", "whne": {}}]),
            "unknown field spec.rules[0].whne (kubectl apply refuses it; "
            "`kubectl explain shortlink.spec.rules` lists the fields)",
        ),
        (
            link() | {"sepc": {}},
            "unknown field sepc (kubectl apply refuses it; "
            "`kubectl explain shortlink` lists the fields)",
        ),
        (link(redirectCode="302"), "spec.redirectCode must be an integer"),
        (link(suspended="yes"), "spec.suspended must be a boolean"),
        (link(aliases="d"), "spec.aliases must be an array"),
        (link(match="exact"), "spec.match must be one of Insensitive, Exact, not 'exact'"),
        (link(utm={"source": 5}), "spec.utm.source must be a string"),
        (link(aliases=[f"a{i}" for i in range(9)]), "spec.aliases may hold at most 8 items"),
        (
            link(rules=[{"split": [{"weight": 1001, "url": "https://a/"}]}]),
            "spec.rules[0].split[0].weight must be at most 1000",
        ),
        ({"apiVersion": "shortlink.dev/v1alpha1", "kind": "ShortLink"}, "spec is required"),
    ],
)
def test_what_the_api_server_refuses_is_reported(body: dict[str, Any], error: str) -> None:
    assert error in schema_errors(body)


def test_the_crd_is_read_from_the_checkout_and_shipped_in_the_wheel() -> None:
    assert crd_path() == CRDS / CRD_FILE
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    included = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included[f"crds/{CRD_FILE}"] == f"shortlink_core/crds/{CRD_FILE}"
