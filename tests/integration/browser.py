"""A real headless Chromium for the browser tests: Debian's, driven by Playwright.

Playwright cannot download its own browser here, so it launches ``/usr/bin/chromium``
(``bin/setup`` installs the Debian package ``chromium`` when run as root). The flags keep
Chromium from reaching for Google's hosts on a machine without internet.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: Where browser tests save their screenshots.
SCREENSHOTS = ROOT / ".dev" / "screenshots"
#: Chromium's flags: headless, no sandbox (root), no GPU, no background network.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str:
    """Return Chromium's path, or skip the test with how to install it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed: bin/setup installs Debian's chromium (as root)")
    return found


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[object]:
    """Yield a Playwright page in a fresh headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(FLAGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot as ``.dev/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
