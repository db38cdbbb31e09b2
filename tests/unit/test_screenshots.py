"""One committed screenshot per page the browser tier loads, each shown in the README."""

from pathlib import Path

from tests.browser.shots import PAGES

ROOT = Path(__file__).parents[2]


def test_every_page_has_a_committed_screenshot_that_the_readme_shows() -> None:
    readme = (ROOT / "README.md").read_text()
    folder = ROOT / "docs" / "screenshots"
    for shot in PAGES:
        image = folder / f"{shot.name}.png"
        assert image.read_bytes().startswith(b"\x89PNG"), image
        assert f"(docs/screenshots/{shot.name}.png)" in readme, shot.name
    assert sorted(p.stem for p in folder.glob("*.png")) == sorted(s.name for s in PAGES)
