"""What the browser and PDF tests need, and what happens when it is missing.

Under CI (``CI=true``) a missing browser, WeasyPrint, Pango or PDF rasteriser fails the test: CI
installs them (``.ci/run``), so a missing one is a broken set-up. On a laptop with only Python and
pip the same tests skip, and ``pytest -ra`` shows why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Flags for Debian's Chromium in a container: no sandbox (root), no GPU, and none of the
# background traffic (updates, sync, QUIC probes) that would count as network requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")


def missing(reason: str) -> None:
    """Fail under CI, where the dependency must be installed; skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide this: {reason}", pytrace=False)
    pytest.skip(reason)


def chromium() -> str:
    """The Chromium executable (``SECURITIZE_CHROMIUM`` or the first found on PATH)."""
    named = os.environ.get("SECURITIZE_CHROMIUM")
    found = named or next(filter(None, map(shutil.which, BROWSER_NAMES)), None)
    if not found:
        missing("no Chromium found (apt-get install chromium, or set SECURITIZE_CHROMIUM)")
    return str(found)


def weasyprint() -> Any:
    """WeasyPrint, when it and its system libraries are installed."""
    from securitize.errors import SecuritizeError
    from securitize.memo.pdf import load_weasyprint

    try:
        return load_weasyprint()
    except SecuritizeError as exc:
        missing(str(exc))


@dataclass
class Visit:
    """What happened while a page was open: requests, dialogs, console errors."""

    page: Any
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (which cannot download its own browsers
    here; it drives the installed one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install -e '.[test]')")
    executable = chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def open_page(browser: Any, path: Path) -> Visit:
    """Open a local HTML file, recording every request; none but the file itself may leave."""
    page = browser.new_page()
    visit = Visit(page)
    url = path.resolve().as_uri()

    def route(request_route: Any) -> None:
        if request_route.request.url == url:
            request_route.continue_()
        else:
            request_route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on(
        "console",
        lambda message: visit.errors.append(message.text) if message.type == "error" else None,
    )
    page.goto(url, wait_until="load")
    return visit
