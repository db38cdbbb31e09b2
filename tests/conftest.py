"""Settings and guards for every tier.

Tests leave the source tree as they found it: a test that writes beside the code (a values file
next to the chart, a rendered manifest in `crds/`) leaves stray files that then get committed, so
the session fails if any appears. An async test that returns while a task it started is still
running would hide work that outlives it; it fails.

The Hypothesis profiles: `ci` (the default, so `make test` and CI run it) is derandomized: the
same bounded examples on every run, no example database. `explore` searches afresh with more
examples and keeps failures in `.hypothesis/`:
`HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/component/test_fuzz.py`.
"""

import asyncio
import functools
import inspect
import os
import subprocess
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any

import pytest
from hypothesis import settings

from shortlink_localcluster.stack import REPO

settings.register_profile("ci", derandomize=True, database=None, max_examples=200)
settings.register_profile("explore", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test fails if it leaves a task running that it started."""
    for item in items:
        function = getattr(item, "obj", None)
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(function):
            item.obj = _failing_on_leaked_tasks(function)


def _failing_on_leaked_tasks(
    test: Callable[..., Coroutine[Any, Any, None]],
) -> Callable[..., Coroutine[Any, Any, None]]:
    @functools.wraps(test)
    async def guarded(*args: Any, **kwargs: Any) -> None:
        before = asyncio.all_tasks()
        await test(*args, **kwargs)
        for _ in range(3):  # a task cancelled at the end needs a turn of the loop to finish
            leaked = asyncio.all_tasks() - before - {asyncio.current_task()}
            if not leaked:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"the test left tasks running: {sorted(map(repr, leaked))}")

    return guarded


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A sync test runs with no event loop set, and none is created for it.

    `looptime` (the fast-forwarded clock of the scheduler's tests) asks the loop policy for the
    test's loop around every test; for a sync test the default policy would create one there and
    never close it, and its ResourceWarning would later fail whichever test the garbage collector
    happens to run in. With no loop set, the policy says so instead.
    """
    if pyfuncitem.get_closest_marker("asyncio") is None:  # pytest-asyncio marks every async test
        asyncio.set_event_loop(None)
    result = yield
    return result
