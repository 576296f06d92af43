"""The memo as PDF (``securitize run --pdf``): several A4 pages that each render to a non-blank
image, every major section starting a page, the same bytes for the same memo, nothing fetched
from outside, and a one-line error when WeasyPrint is missing."""

from __future__ import annotations

import builtins
import ctypes
import http.server
import re
import sys
import threading
from pathlib import Path

import pytest
from PIL import ImageStat

from securitize import run_scenario
from securitize.cli import main
from securitize.memo.pdf import html_to_pdf
from securitize.memo.seal import memo_html
from tests.browser_support import missing, weasyprint
from tests.conftest import INTERBANK

A4_POINTS = (595.28, 841.89)
PDF_SIGNATURE = b"%PDF-"
# Font families with Chinese glyphs, as they are named inside a PDF.
CJK_FAMILIES = (
    "WenQuanYi",
    "WQY",
    "NotoSansCJK",
    "NotoSerifCJK",
    "NotoSansSC",
    "SourceHan",
    "PingFang",
    "YaHei",
    "SimSun",
    "SimHei",
    "DroidSansFallback",
    "UMing",
    "UKai",
    "Hiragino",
    "Heiti",
)


def pdfium():
    try:
        import pypdfium2
    except ImportError:
        missing("pypdfium2 is not installed (pip install -e '.[test]')")
    return pypdfium2


@pytest.fixture(scope="module")
def memo() -> str:
    return memo_html(run_scenario(INTERBANK, paths=3000))


@pytest.fixture(scope="module")
def chinese_memo() -> str:
    """The pilot memo in Chinese."""
    return memo_html(run_scenario(INTERBANK, paths=3000), language="zh")


@pytest.fixture(scope="module")
def pdf(memo: str) -> bytes:
    weasyprint()
    return html_to_pdf(memo)


@pytest.fixture(scope="module")
def pages(pdf: bytes) -> list:
    document = pdfium().PdfDocument(pdf)
    return [document[i] for i in range(len(document))]


def test_the_pdf_has_several_a4_pages(pdf: bytes, pages: list) -> None:
    assert pdf.startswith(PDF_SIGNATURE)
    assert len(pages) > 1
    for page in pages:
        assert page.get_size() == pytest.approx(A4_POINTS, abs=0.5)


def test_every_page_renders_to_a_non_blank_image(pages: list) -> None:
    for number, page in enumerate(pages, start=1):
        image = page.render(scale=100 / 72).to_pil().convert("L")
        assert image.width == 827 and abs(image.height - 1169) <= 1
        inked = sum(image.histogram()[:200]) / (image.width * image.height)
        assert inked > 0.002, f"page {number} is blank"
        assert ImageStat.Stat(image).stddev[0] > 5, f"page {number} is blank"


def test_every_major_section_starts_a_page_and_pages_are_numbered(memo: str, pages: list) -> None:
    headings = re.findall(r'<section id="[^"]+">\s*<h2>(.*?)</h2>', memo)
    assert len(headings) >= 6
    texts = [page.get_textpage().get_text_range().strip() for page in pages]
    # The first section follows the title on page 1; every later one opens a page.
    for heading in headings[1:]:
        starts = [t for t in texts if t.startswith(re.sub(r"<[^>]+>", "", heading))]
        assert len(starts) == 1, heading
    for number, text in enumerate(texts, start=1):
        assert text.endswith(f"{number} / {len(pages)}")


def ink_in_side_margins(page) -> int:
    """Dark points left and right of the text area (print.css: 14 mm side margins), above the
    bottom margin where the page number sits; at scale 1 a pixel is a point."""
    image = page.render(scale=1).to_pil().convert("L")
    side, bottom = 14 * 72 / 25.4 - 3, 18 * 72 / 25.4
    boxes = [(0, 0, side, image.height - bottom)]
    boxes.append((image.width - side, 0, image.width, image.height - bottom))
    return sum(sum(image.crop(box).histogram()[:200]) for box in boxes)


def test_nothing_runs_into_the_side_margins(pages: list) -> None:
    assert [n for n, page in enumerate(pages, start=1) if ink_in_side_margins(page)] == []


def test_the_same_memo_gives_the_same_pdf(memo: str, pdf: bytes) -> None:
    assert html_to_pdf(memo) == pdf


def test_printing_fetches_nothing_from_outside(pdf: bytes) -> None:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_error(404)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        html = (
            f'<html><head><link rel="stylesheet" href="{host}/style.css"></head><body>'
            f'<img src="{host}/chart.png"><img src="file:///etc/hostname"><p>memo</p></body></html>'
        )
        assert html_to_pdf(html).startswith(PDF_SIGNATURE)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == []


def test_run_pdf_writes_it_beside_the_memo_and_never_over_one(tmp_path: Path, capsys) -> None:
    weasyprint()
    out = tmp_path / "out"
    args = ["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--quiet", "--pdf"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "memo.html",
        "memo.pdf",
        "repayment_schedule.csv",
        "results.json",
    ]
    assert (out / "memo.pdf").read_bytes().startswith(PDF_SIGNATURE)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main([*args, "--seed", "1"]) == 2
    assert "memo.html: already exists; pass --force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # All or nothing: an existing PDF alone also stops the run from writing the others.
    (out / "memo.html").unlink()
    (out / "results.json").unlink()
    (out / "repayment_schedule.csv").unlink()
    assert main([*args, "--seed", "1"]) == 2
    assert "memo.pdf: already exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["memo.pdf"]
    assert main([*args, "--seed", "1", "--force"]) == 0
    assert (out / "memo.pdf").read_bytes() != before["memo.pdf"]


def test_without_weasyprint_pdf_is_a_one_line_error_before_any_work(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed

    def no_run(*args, **kwargs):
        raise AssertionError("simulated although the PDF could not be written")

    monkeypatch.setattr("securitize.run.run_scenario", no_run)
    out = tmp_path / "out"
    assert main(["run", str(INTERBANK), "--out", str(out), "--pdf"]) == 2
    err = capsys.readouterr().err
    assert err == "securitize: error: --pdf: needs WeasyPrint (pip install 'securitize[pdf]')\n"
    assert not out.exists()


def test_without_pango_pdf_is_a_one_line_error(tmp_path: Path, capsys, monkeypatch) -> None:
    real_import = builtins.__import__

    def without_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0': No such file\nMore help: ...")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", without_pango)
    assert main(["run", str(INTERBANK), "--out", str(tmp_path / "out"), "--pdf"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "cannot load library 'libpango-1.0-0'" in err and "apt-get install" in err


def test_a_chinese_pdf_sets_its_chinese_text_in_a_cjk_font(chinese_memo: str) -> None:
    from securitize.memo.charts import cjk_font

    weasyprint()
    if cjk_font() is None:
        missing("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    raw = pdfium().raw
    document = pdfium().PdfDocument(html_to_pdf(chinese_memo))
    assert len(document) > 1
    page = document[0].get_textpage()
    fonts = set()
    for index in range(page.count_chars()):
        if "\u4e00" <= chr(raw.FPDFText_GetUnicode(page, index)) <= "\u9fff":
            name = ctypes.create_string_buffer(256)
            raw.FPDFText_GetFontInfo(page, index, name, len(name), None)
            fonts.add(name.value.decode("ascii", "replace").replace("-", "").replace(" ", ""))
    assert fonts, "no Chinese text on page 1"
    assert [n for n in range(len(document)) if ink_in_side_margins(document[n])] == []
    assert all(any(family in font for family in CJK_FAMILIES) for font in fonts), fonts


def test_the_chinese_diagram_keeps_its_labels_in_the_pdf(chinese_memo: str) -> None:
    # The arrows' labels appear only in the transaction diagram: its text reached the PDF
    # as text, under the tranches' and the guarantor's Chinese names.
    weasyprint()
    document = pdfium().PdfDocument(html_to_pdf(chinese_memo))
    text = (
        "".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
        .replace("\r", "")
        .replace("\n", "")
    )
    for label in (
        "转让基础资产",
        "本息兑付",
        "还本付息",
        "优先级资产支持证券",
        "浙江省融资担保有限公司",
    ):
        assert label in text, label
