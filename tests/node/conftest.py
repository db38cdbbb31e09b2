"""The node tier: the chart installed with helm, from images built from this repository, on a
real kubelet node beside a local control plane (`shortlink_localcluster.release`), started once for
the tier. It needs root, a Docker engine (started here if missing) and Go; `make test` provides
them. The release runs in a namespace where Pod Security "restricted" is enforced, with 3
redirector and 2 operator replicas and its ServiceMonitors and PrometheusRule on.
"""

from collections.abc import Iterator

import pytest

from shortlink_localcluster.release import Release, installed
from shortlink_localcluster.tools import default_cache_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/node/" in str(item.path):
            item.add_marker(pytest.mark.node)
            # The first test also starts the node and installs the chart (and, unless `make
            # node-deps` ran first, builds the images and the node's programs).
            item.add_marker(pytest.mark.timeout(1800))


# Package scope: the node and its pods stop when the node tier is done, not at the end of the
# whole session, so the tiers after it do not run beside a busy node.
@pytest.fixture(scope="package")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    cache = default_cache_dir()
    with installed(tmp_path_factory.mktemp("node"), cache) as found:
        yield found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On a failed node test, show the last lines of the node's component logs."""
    report = yield
    release = item.funcargs.get("release") if hasattr(item, "funcargs") else None
    if call.when == "call" and getattr(report, "failed", False) and isinstance(release, Release):
        for name, tail in release.node.logs_tail(30).items():
            report.sections.append((f"{name} log", tail))  # type: ignore[attr-defined]
    return report
