"""Guards for every tier: tests leave the source tree as they found it.

A test that writes beside the code (a values file next to the chart, a rendered manifest in
`crds/`) leaves stray files that then get committed; the session fails if any appears.
"""

import subprocess
from collections.abc import Iterator

import pytest

from shortlink_localcluster.stack import REPO


def _tree_changes() -> set[str] | None:
    """Paths git reports changed or untracked (ignored ones excluded); None outside a checkout."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return {line[3:] for line in result.stdout.splitlines()}


@pytest.fixture(scope="session", autouse=True)
def _source_tree_untouched() -> Iterator[None]:
    before = _tree_changes()
    yield
    after = _tree_changes()
    if before is not None and after is not None:
        assert after <= before, f"tests wrote into the source tree: {sorted(after - before)}"
