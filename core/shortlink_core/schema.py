"""The ShortLink CRD's structural schema, applied to a manifest without an API server.

The CRD (`crds/shortlinks.shortlink.dev.yaml`) is the one source of its rules; this module only
interprets its OpenAPI v3 schema the way the API server does for structure: unknown fields (which
`kubectl apply` refuses by default, `--validate=strict`), types, enums, required fields, string
lengths, list sizes and number ranges. The CEL rules of the CRD are not evaluated here: each one
is also a rule of `shortlink_core.link.parse_link`, which the lint runs next.

The CRD ships inside the package (`shortlink_core/crds/`, added to the wheel by pyproject); from
a source checkout it is read from the repository's `crds/` folder.
"""

import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from shortlink_core.api import GROUP, PLURAL, VERSION

CRD_FILE: Final = f"{PLURAL}.{GROUP}.yaml"
_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def crd_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "crds" / CRD_FILE, here.parents[1] / "crds" / CRD_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{CRD_FILE} is neither in the package nor in a source checkout")


@functools.cache
def shortlink_schema() -> Mapping[str, Any]:
    """The openAPIV3Schema of the served ShortLink version."""
    crd = yaml.safe_load(crd_path().read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
    schema: Mapping[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schema_errors(body: Mapping[str, Any]) -> list[str]:
    """What the CRD's structural schema says is wrong with `body` (spec and top level)."""
    schema = shortlink_schema()
    top = {key: value for key, value in body.items() if key not in ("metadata", "status")}
    return list(_errors(schema, top, ""))


def _errors(schema: Mapping[str, Any], value: object, path: str) -> Iterator[str]:
    where = path or "the object"
    kind = schema.get("type")
    if kind in _TYPES and not _is(value, kind):
        yield f"{where} must be {'an' if kind in ('object', 'array', 'integer') else 'a'} {kind}"
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        yield f"{where} must be one of {allowed}, not {value!r}"
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield f"{where} must be at most {schema['maxLength']} characters"
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield f"{where} must be at least {schema['minLength']} characters"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{where} must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{where} must be at most {schema['maximum']}"
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield f"{where} may hold at most {schema['maxItems']} items"
        if "items" in schema:
            for index, item in enumerate(value):
                yield from _errors(schema["items"], item, f"{path}[{index}]")
    if isinstance(value, dict):
        yield from _object_errors(schema, value, path)


def _object_errors(schema: Mapping[str, Any], value: dict[Any, Any], path: str) -> Iterator[str]:
    prefix = f"{path}." if path else ""
    for key in schema.get("required", ()):
        if key not in value:
            yield f"{prefix}{key} is required"
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if properties is not None and key in properties:
            yield from _errors(properties[key], item, f"{prefix}{key}")
        elif isinstance(extra, Mapping):
            yield from _errors(extra, item, f"{prefix}{key}")
        elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            explain = re.sub(r"\[\d+\]", "", f"shortlink.{path}" if path else "shortlink")
            yield (
                f"unknown field {prefix}{key} (kubectl apply refuses it; "
                f"`kubectl explain {explain}` lists the fields)"
            )


def _is(value: object, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _TYPES[kind])
