"""How the plugin runs kubectl: the binary kubectl names, the user's flags, errors it reports."""

import json
from pathlib import Path

import pytest

from shortlink_plugin.kubectl import Kubectl, KubectlError


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in kubectl (named by KUBECTL_PLUGINS_CALLER, as kubectl does for plugins) that
    records its arguments and answers with $REPLY / exits with $CODE."""
    script = tmp_path / "kubectl"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp_path}/args\n'
        'if [ "$CODE" != 0 ]; then echo "$REPLY" >&2; exit "$CODE"; fi\n'
        'echo "$REPLY"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("KUBECTL_PLUGINS_CALLER", str(script))
    monkeypatch.setenv("CODE", "0")
    monkeypatch.setenv("REPLY", json.dumps({"items": []}))
    return tmp_path / "args"


def test_the_users_flags_come_first_and_the_namespace_when_it_applies(fake_kubectl: Path) -> None:
    kubectl = Kubectl(kubeconfig="/k", context="c", namespace="team", request_timeout="5s")
    assert kubectl.json("get", "shortlinks") == {"items": []}
    assert fake_kubectl.read_text().split() == [
        "--kubeconfig=/k", "--context=c", "--request-timeout=5s", "-n", "team",
        "get", "shortlinks", "-o", "json",
    ]  # fmt: skip
    kubectl.run("config", "view", namespaced=False)
    assert "-n" not in fake_kubectl.read_text().split()


@pytest.mark.parametrize(
    ("reply", "forbidden"),
    [
        (
            'Error from server (Forbidden): shortlinks.shortlink.dev is forbidden: User "x" '
            'cannot list resource "shortlinks" at the cluster scope',
            True,
        ),
        ('Error from server (NotFound): shortlinks.shortlink.dev "forbidden" not found', False),
    ],
)
def test_errors_carry_kubectls_message_and_whether_it_was_forbidden(
    fake_kubectl: Path, monkeypatch: pytest.MonkeyPatch, reply: str, forbidden: bool
) -> None:
    monkeypatch.setenv("CODE", "1")
    monkeypatch.setenv("REPLY", reply)
    with pytest.raises(KubectlError) as raised:
        Kubectl().run("get", "shortlinks")
    assert str(raised.value) == reply
    assert raised.value.forbidden is forbidden


def test_the_current_namespace_is_the_flag_or_the_contexts_or_default(
    fake_kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Kubectl(namespace="given").current_namespace() == "given"
    monkeypatch.setenv("REPLY", "from-context")
    assert Kubectl().current_namespace() == "from-context"
    monkeypatch.setenv("REPLY", "")
    assert Kubectl().current_namespace() == "default"
