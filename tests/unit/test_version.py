"""One version: the Python package's (pyproject.toml) is the chart's and the images' version."""

import tomllib
from importlib.metadata import version

import yaml

from shortlink_localcluster.stack import REPO


def test_the_chart_and_the_installed_package_carry_the_version_of_pyproject() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((REPO / "charts" / "shortlink" / "Chart.yaml").read_text())
    assert chart["appVersion"] == declared, "set appVersion in Chart.yaml to pyproject's version"
    assert chart["version"] == declared, "set version in Chart.yaml to pyproject's version"
    assert version("shortlink") == declared, "the installed package is stale: run make deps"
