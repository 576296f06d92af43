"""The pilot memo in a real headless browser (Debian's Chromium): it loads with no network
request, no script error or dialog, every chart decodes, and it looks like a document."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from securitize import run_scenario
from securitize.cli import main
from securitize.memo.seal import memo_html
from tests.browser_support import browser, open_page  # noqa: F401 (fixture)
from tests.conftest import INTERBANK

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VIEWPORT = (1280, 900)


def languages() -> list[str]:
    """Every language ``securitize run`` offers (``--lang``), else English only."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
        main(["run", "--help"])
    return ["en", "zh"] if "--lang" in shown.getvalue() else ["en"]


@pytest.fixture(scope="module")
def pilot_run():
    return run_scenario(INTERBANK, paths=3000)


@pytest.fixture(scope="module", params=languages())
def memo(request, pilot_run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp(f"memo-{request.param}") / "memo.html"
    path.write_text(memo_html(pilot_run, language=request.param), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def visit(browser, memo: Path):  # noqa: F811 (the fixture imported above)
    visit = open_page(browser, memo)
    yield visit
    visit.page.close()


def test_the_memo_makes_no_network_request(visit, memo: Path) -> None:
    own = memo.resolve().as_uri()
    assert own in visit.requests
    assert [u for u in visit.requests if u != own and not u.startswith("data:")] == []


def test_no_script_error_and_no_dialog(visit) -> None:
    assert visit.errors == []
    assert visit.dialogs == []


def test_every_image_is_decoded(visit) -> None:
    images = visit.page.evaluate(
        "Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) >= 3
    assert [i for i in images if not (i[0] and i[1] > 0 and i[2] > 0)] == []


def test_every_section_is_laid_out_with_text(visit) -> None:
    sections = visit.page.evaluate(
        "Array.from(document.querySelectorAll('section'),"
        " s => [s.id, s.getBoundingClientRect().height, s.innerText.length])"
    )
    assert len(sections) >= 6
    assert [s for s in sections if s[1] < 50 or s[2] < 100] == []


def test_nothing_is_wider_than_the_window(visit) -> None:
    width = visit.page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT[0]


def test_the_verification_block_is_inert_data(visit) -> None:
    block = visit.page.evaluate(
        "(() => { const s = document.getElementById('securitize-verification');"
        " return [s.type, JSON.parse(s.textContent).format, document.scripts.length]; })()"
    )
    assert block == ["application/json", "securitize.memo-verification", 1]


def test_the_screenshot_is_a_clean_page(visit, memo: Path) -> None:
    shot = visit.page.screenshot()
    assert shot.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(shot)).convert("L")
    assert image.size == VIEWPORT
    # Not blank: text and rules on a white page, so most pixels are white but many are not.
    inked = sum(image.histogram()[:200]) / (image.width * image.height)
    assert 0.01 < inked < 0.5
    assert ImageStat.Stat(image).stddev[0] > 20
    (memo.parent / "screenshot.png").write_bytes(shot)


def test_the_whole_page_screenshot_has_the_length_of_a_memo(visit) -> None:
    image = Image.open(io.BytesIO(visit.page.screenshot(full_page=True)))
    assert image.width == VIEWPORT[0]
    assert 5 * VIEWPORT[1] < image.height < 60 * VIEWPORT[1]
