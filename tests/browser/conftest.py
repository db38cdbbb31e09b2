"""The browser tier: the redirector's pages rendered by a real headless Chromium."""

from collections.abc import Iterator

import pytest

from tests.browser.shots import Site, demo_state, serving


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving(demo_state()) as site:
        yield site
