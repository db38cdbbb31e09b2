"""The krew manifest and archive: a reproducible archive whose SHA-256 the manifest states, and a
launcher inside it that runs the plugin."""

import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import yaml

from shortlink_localcluster.stack import REPO
from shortlink_plugin.krew import MANIFEST, archive_bytes, main, sha256


def test_the_manifest_names_the_archive_it_would_install() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert (manifest["kind"], manifest["metadata"]["name"]) == ("Plugin", "shortlink")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert manifest["spec"]["version"] == f"v{project['version']}"
    [platform] = manifest["spec"]["platforms"]
    assert platform["sha256"] == sha256(), "launcher changed: update sha256 in the manifest"
    assert platform["bin"] == "kubectl-shortlink"
    assert platform["files"] == [{"from": "kubectl-shortlink", "to": "."}]


def test_the_archive_is_reproducible() -> None:
    assert archive_bytes() == archive_bytes()


def test_the_archived_launcher_runs_the_plugin(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    with tarfile.open(tmp_path / "kubectl-shortlink.tar.gz") as tar:
        tar.extractall(tmp_path / "plugin", filter="data")
    launcher = tmp_path / "plugin" / "kubectl-shortlink"
    assert os.access(launcher, os.X_OK)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(
        [str(launcher), "--help"],
        env=dict(os.environ, PATH=path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: kubectl shortlink")
