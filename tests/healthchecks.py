"""The shipped GitOps health checks, run the way Argo CD and Flux run them.

Argo CD runs a resource's health Lua with the object as the global `obj` and reads the returned
table's `status` and `message`: run here with lupa (real Lua). Flux (kustomize-controller's
`healthCheckExprs`) first reports a status older than the generation as in progress, then takes
the first of inProgress, failed and current that is true, with the object's top-level fields as
CEL variables, and in progress when none is: run here with cel-python.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import celpy
import yaml
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError
from lupa import LuaRuntime

from shortlink_localcluster.stack import REPO

GITOPS: Final = REPO / "gitops"
LUA: Final = GITOPS / "argocd" / "shortlink-health.lua"
FLUX: Final = GITOPS / "flux" / "kustomization.yaml"


def argo_health(obj: Mapping[str, Any], script: Path = LUA) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(dict(obj), recursive=True)
    result = lua.execute(script.read_text())
    return str(result["status"]), str(result["message"])


def flux_expressions() -> Mapping[str, str]:
    kustomization = yaml.safe_load(FLUX.read_text())
    [check] = [c for c in kustomization["spec"]["healthCheckExprs"] if c["kind"] == "ShortLink"]
    assert check["apiVersion"] == "shortlink.dev/v1alpha1"
    return {key: check[key] for key in ("inProgress", "failed", "current")}


def flux_health(obj: Mapping[str, Any]) -> str:
    """ "InProgress", "Failed" or "Current", as kustomize-controller decides."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if observed is not None and generation is not None and observed != generation:
        return "InProgress"
    environment = celpy.Environment()
    activation = {key: json_to_cel(value) for key, value in obj.items()}
    for key, outcome in (
        ("inProgress", "InProgress"),
        ("failed", "Failed"),
        ("current", "Current"),
    ):
        program = environment.program(environment.compile(flux_expressions()[key]))
        result = program.evaluate(activation)
        if isinstance(result, CELEvalError):
            raise result
        if result:
            return outcome
    return "InProgress"
