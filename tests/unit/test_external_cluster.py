"""The external-cluster mode's view of a kubeconfig (`shortlink_localcluster.external`): the
current context flattened into one cluster, user and context, ServiceAccount-token kubeconfigs for
the same cluster, and an admin HTTP client with the kubeconfig user's credentials. kubectl reads
the files for real; no API server is needed until `connect()`."""

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shortlink_localcluster.external import ExternalCluster, ExternalClusterError


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=test-ca", "-keyout", str(tmp_path / "ca.key"), "-out", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def kubeconfig(tmp_path: Path, ca: Path, user: dict[str, Any]) -> Path:
    """Two contexts; the current one (`mine`) names a CA file and `user`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "other", "cluster": {"server": "https://other.invalid:6443"}},
            {"name": "c",
             "cluster": {"server": "https://c.invalid:6443", "certificate-authority": str(ca)}},
        ],
        "users": [{"name": "other", "user": {"token": "not-this"}}, {"name": "u", "user": user}],
        "contexts": [
            {"name": "theirs", "context": {"cluster": "other", "user": "other"}},
            {"name": "mine", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": "mine",
    }  # fmt: skip
    path = tmp_path / "source"
    path.write_text(yaml.safe_dump(config))
    return path


def read(tmp_path: Path, ca: Path, user: dict[str, Any]) -> ExternalCluster:
    external = ExternalCluster(source=kubeconfig(tmp_path, ca, user), workdir=tmp_path / "work")
    external.read()
    return external


def test_the_current_context_is_flattened_with_its_ca_inline(tmp_path: Path, ca: Path) -> None:
    external = read(tmp_path, ca, {"token": "admin-token"})
    config = yaml.safe_load(external.kubeconfig.read_text())
    assert [c["name"] for c in config["contexts"]] == ["mine"]
    assert external.server == "https://c.invalid:6443"
    cluster = config["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()
    assert config["users"][0]["user"] == {"token": "admin-token"}
    assert external.env()["KUBECONFIG"] == str(external.kubeconfig)
    assert external.kubeconfig.stat().st_mode & 0o077 == 0


def test_a_service_account_kubeconfig_reaches_the_same_cluster(tmp_path: Path, ca: Path) -> None:
    external = read(tmp_path, ca, {"token": "admin-token"})
    path = external.write_kubeconfig(tmp_path / "owner", user="owner", token="sa-token")  # noqa: S106
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://c.invalid:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()
    assert config["users"] == [{"name": "owner", "user": {"token": "sa-token"}}]
    current = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    assert current["context"]["user"] == "owner"


async def test_the_admin_client_sends_the_users_token(tmp_path: Path, ca: Path) -> None:
    external = read(tmp_path, ca, {"token": "admin-token"})
    async with external.admin_client() as client:
        assert client.headers["Authorization"] == "Bearer admin-token"
        assert str(client.base_url) == "https://c.invalid:6443"


def test_a_credential_plugin_is_refused_with_a_reason(tmp_path: Path, ca: Path) -> None:
    plugin = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "get-token"}}
    external = read(tmp_path, ca, plugin)
    with pytest.raises(ExternalClusterError, match=r"no token or client certificate.*exec"):
        external.admin_client()
