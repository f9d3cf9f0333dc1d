"""Browser fixtures: a real waitress server over a generated index, and headless Chromium.

Uses Debian's chromium (``/usr/bin/chromium``, installed by .ci/run) driven by Playwright;
Playwright's own browser downloads are not used. Screenshots: see ``screenshots.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

import pytest
from webfixtures import WebData, make_app, web_data  # noqa: F401  (web_data is a fixture)

CHROMIUM = Path(os.environ.get("REELSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the browser tests, with the reason, when chromium is not installed.

    CI sets REELSEARCH_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip.
    """
    if CHROMIUM.exists():
        return
    if os.environ.get("REELSEARCH_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"{CHROMIUM} is missing but REELSEARCH_REQUIRE_BROWSER=1 (CI): "
                                "apt-get install -y chromium")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium "
                                   "(see .ci/run) to run the browser tests")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def live_data(web_data: WebData, tmp_path_factory) -> WebData:  # noqa: F811
    """A private copy of the index for this module's server (the tests change segments)."""
    return web_data.copy_to(tmp_path_factory.mktemp("e2e") / "index")


@pytest.fixture(scope="module")
def live_server(live_data: WebData) -> Iterator[str]:
    """The app served by waitress on a free local port, in a background thread; yields the URL."""
    import waitress

    app = make_app(live_data)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="e2e-waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
    app.extensions["reelsearch"].close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _tab(browser, viewport: dict[str, int], **options) -> Iterator:
    """A fresh tab of ``viewport`` size (own cookies); JS errors fail the test."""
    context = browser.new_context(viewport=viewport, **options)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture()
def page(browser) -> Iterator:
    """A fresh 1280x800 browser tab (own cookies); JS errors fail the test."""
    yield from _tab(browser, VIEWPORT)


@pytest.fixture()
def phone(browser) -> Iterator:
    """A fresh 390x844 tab as on a phone (mobile viewport, touch); JS errors fail the test."""
    yield from _tab(browser, PHONE, is_mobile=True, has_touch=True)
