"""Every page at phone size (390x844) in headless Chromium: nothing wider than the screen.

Each page is saved as ``artifacts/screenshots/<page>-phone.png`` (the 1280x800 ones come from
test_web_browser.py) so people can look at what phone users see.
"""

from __future__ import annotations

import pytest
from screenshots import screenshot
from webfixtures import CURATOR, PASSWORD

pytestmark = pytest.mark.e2e

OVERFLOW = """() => ({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
  wide: Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect(); return r.width > 0 && r.right > screen.width + 1
      && !e.closest('.scroll-x'); }).slice(0, 5).map(e => e.tagName + '.' + e.className)})"""

PAGES = {
    "search": "/",
    "search-results": "/search?q=red",
    "search-empty": "/search?q=giraffe&category=cool",
    "browse": "/browse",
    "category": "/browse/category/warm",
    "videos": "/videos",
    "video": "/videos/{harbour}",
    "video-report": "/videos/{harbour}?label=red",
    "login": "/login",
}


def _assert_fits(tab, name: str) -> None:
    tab.wait_for_load_state("networkidle")
    size = tab.evaluate(OVERFLOW)
    assert size["scroll"] <= size["inner"] <= 390, f"{name} is {size['scroll']} px wide: {size['wide']}"
    assert not size["wide"], f"{name}: elements reach past the screen's edge: {size['wide']}"


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_a_phone_screen(phone, live_server, live_data, name):
    phone.goto(live_server + PAGES[name].format(**live_data.ids))
    _assert_fits(phone, name)
    screenshot(phone, f"{name}-phone")


def test_curator_video_page_fits_a_phone_screen(phone, live_server, live_data):
    vid = live_data.ids["market"]
    phone.goto(f"{live_server}/login?next=/videos/{vid}")
    phone.fill("input[name=name]", CURATOR)
    phone.fill("input[name=password]", PASSWORD)
    phone.click("form.stack button[type=submit]")
    phone.wait_for_url(f"{live_server}/videos/{vid}")
    _assert_fits(phone, "video-curator")
    phone.evaluate("() => document.getElementById('timeline').scrollIntoView()")
    screenshot(phone, "video-curator-phone")
