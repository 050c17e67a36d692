"""Headless Chromium for page tests: Debian's `chromium` (installed by
`make install`) driven by Playwright; no browser is ever downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

# Without these, Chromium keeps trying to reach Google's services, which a
# closed network refuses over and over.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is installed by `make install` (Debian package chromium)"
    return path


@contextmanager
def browser_page(width: int = 1920, height: int = 1080) -> Iterator:
    """A Playwright page in a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
