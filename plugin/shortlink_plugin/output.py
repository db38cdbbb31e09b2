"""Objects printed the way `kubectl get -o yaml|json|name` prints them."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml


def as_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {}}


def dump(value: Any, output: str) -> str:
    """`value` as JSON (indented, like kubectl) or YAML."""
    if output == "json":
        return json.dumps(value, indent=4) + "\n"
    return str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))


def names(items: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"shortlink.shortlink.dev/{item['metadata']['name']}\n" for item in items)
