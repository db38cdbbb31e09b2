"""The Argo CD health Lua and the Flux healthCheckExprs on every status the operator writes.

Deliberate states read as healthy, states someone must fix as degraded, anything not yet published
as progressing. The cluster tier runs the same checks on statuses written by the real operator
(tests/cluster/test_health_checks.py).
"""

from typing import Any

import pytest
import yaml

from shortlink_operator.conditions import Reason
from tests.healthchecks import FLUX, GITOPS, LUA, argo_health, flux_health

HEALTHY = {Reason.PUBLISHED, Reason.SUSPENDED, Reason.SCHEDULED, Reason.EXPIRED}
EXPECTED = {"Healthy": "Current", "Degraded": "Failed", "Progressing": "InProgress"}


def link(status: dict[str, Any] | None, generation: int = 2) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "shortlink.dev/v1alpha1",
        "kind": "ShortLink",
        "metadata": {"name": "docs", "namespace": "team", "generation": generation},
        "spec": {"url": "https://example.com/"},
    }
    if status is not None:
        body["status"] = status
    return body


def ready(flag: str, reason: str, observed: int = 2) -> dict[str, Any]:
    condition = {"type": "Ready", "status": flag, "reason": reason, "message": f"why {reason}"}
    return {"observedGeneration": observed, "conditions": [condition]}


def reasons() -> list[str]:
    return [value for key, value in vars(Reason).items() if key.isupper()]


@pytest.mark.parametrize("reason", reasons())
def test_every_reason_the_operator_writes_has_a_health(reason: str) -> None:
    flag = "True" if reason == Reason.PUBLISHED else "False"
    status, message = argo_health(link(ready(flag, reason)))
    assert status == ("Healthy" if reason in HEALTHY else "Degraded")
    assert flux_health(link(ready(flag, reason))) == EXPECTED[status]
    if flag == "False":
        assert message == f"{reason}: why {reason}"


@pytest.mark.parametrize(
    "status",
    [
        None,  # just applied: the operator has not written anything
        {},
        {"observedGeneration": 2, "conditions": []},
        ready("True", Reason.PUBLISHED, observed=1),  # published, but an older generation
        ready("False", Reason.SLUG_CONFLICT, observed=1),
        ready("Unknown", "Pending"),
    ],
)
def test_anything_not_yet_published_is_progressing(status: dict[str, Any] | None) -> None:
    assert argo_health(link(status))[0] == "Progressing"
    assert flux_health(link(status)) == "InProgress"


def test_a_published_link_says_its_short_url() -> None:
    status = ready("True", Reason.PUBLISHED) | {"shortURL": "https://go.example.com/docs"}
    assert argo_health(link(status)) == ("Healthy", "https://go.example.com/docs")


def test_the_argocd_configmap_embeds_the_script_verbatim() -> None:
    configmap = yaml.safe_load((GITOPS / "argocd" / "argocd-cm.yaml").read_text())
    key = "resource.customizations.health.shortlink.dev_ShortLink"
    assert configmap["data"][key] == LUA.read_text()


def test_the_flux_example_waits_for_its_links() -> None:
    spec = yaml.safe_load(FLUX.read_text())["spec"]
    assert spec["wait"] is True
