"""Every page of the redirector, loaded by headless Chromium over a real socket: it renders what
it should, causes no console message (the pages run no script), and everything it loads answers.
"""

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.shots import PAGES, PROBE_PATH, WINDOW, Shot, Site, capture


@pytest.mark.parametrize("shot", PAGES, ids=[shot.name for shot in PAGES])
def test_each_page_renders_in_chromium_without_console_messages(
    site: Site, shot: Shot, tmp_path: Path
) -> None:
    page = capture(site, shot.path, tmp_path / f"{shot.name}.png")
    assert page.console == []
    assert shot.shows in page.dom
    # The page itself answered as it should; everything it then loaded (the QR code, the
    # browser's favicon request, 204) answered without an error.
    assert (shot.path, shot.status) in page.requests
    others = [request for request in page.requests if request[0] != shot.path]
    assert all(status < 300 for _, status in others), page.requests
    image = Image.open(io.BytesIO(page.png))
    assert image.size == WINDOW
    # Not a blank page: the text drew pixels of more than one colour.
    assert len(image.convert("L").getcolors(maxcolors=256 * 256) or ()) > 2


def test_the_inspect_page_loads_its_qr_code(site: Site, tmp_path: Path) -> None:
    page = capture(site, "/handbook+", tmp_path / "inspect.png")
    assert ("/handbook+qr.svg", 200) in page.requests
    assert 'src="/handbook+qr.svg"' in page.dom


def test_the_pages_policy_blocks_scripts_and_the_console_is_watched(
    site: Site, tmp_path: Path
) -> None:
    # A page carrying an inline script under the pages' Content-Security-Policy: the script
    # is refused, and the refusal is a console message this tier sees.
    page = capture(site, PROBE_PATH, tmp_path / "probe.png")
    assert any("Content Security Policy" in message for message in page.console), page.console
    assert not any('"ran"' in message for message in page.console)
