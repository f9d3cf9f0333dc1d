"""The curator loop in headless Chromium: the review queue by keys, in bulk and with undo, then
re-learn; the label quality page; thumbs up on a search result and "save as category".
Screenshots at 1280x800 and 390x844 (``*-phone``) under artifacts/screenshots/."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from screenshots import screenshot
from webfixtures import CURATOR, PASSWORD

pytestmark = pytest.mark.e2e


def _sign_in(tab, live_server: str, target: str) -> None:
    tab.goto(f"{live_server}/login?next={quote(target)}")
    tab.fill("input[name=name]", CURATOR)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("form.stack button[type=submit]")
    tab.wait_for_url(re.compile(re.escape(target) + "$"))


def test_review_queue_keys_bulk_undo_and_relearn(page, live_server):
    _sign_in(page, live_server, "/review")
    cards = page.locator(".review-card")
    assert cards.count() >= 3
    first, second, third = (cards.nth(i).get_attribute("data-segment") for i in range(3))
    page.locator(f'.review-card[data-segment="{first}"]').focus()
    page.keyboard.press("r")
    page.wait_for_selector(f'.review-card.rejected[data-segment="{first}"]')
    page.keyboard.press("u")
    page.wait_for_selector(f'.review-card[data-segment="{first}"]:not(.rejected)')
    page.locator(f'.review-card[data-segment="{first}"]').focus()
    page.keyboard.press("a")  # accept, focus moves on
    page.keyboard.press("ArrowRight")  # skip one
    page.keyboard.press(" ")  # select the third
    page.locator(f'.review-card[data-segment="{second}"]').focus()
    page.keyboard.press(" ")
    page.click("button[data-bulk=reject]")
    page.wait_for_selector(f'.review-card.rejected[data-segment="{third}"]')
    page.wait_for_selector(f'.review-card.rejected[data-segment="{second}"]')
    assert "accepted" in page.locator(f'.review-card[data-segment="{first}"]').get_attribute("class")
    assert page.locator(".review-count").inner_text() == "3 judged here"
    page.click("button[data-learn]")
    page.wait_for_function("() => /Precision|Not learned/.test(document.querySelector('.learn-result').textContent)")
    assert "Precision" in page.locator(".learn-result").inner_text()
    screenshot(page, "review")


def test_review_queue_on_a_phone(phone, live_server):
    phone.goto(f"{live_server}/review")
    assert phone.locator(".review-card").count() >= 1
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the review page scrolls sideways ({width}px)"
    screenshot(phone, "review-phone")


def test_eval_page_shows_the_judgements(page, phone, live_server):
    page.goto(f"{live_server}/eval")
    rows = page.locator(".eval-table tbody tr.cat-row")
    assert rows.count() >= 1
    assert page.locator(".eval-table tfoot").inner_text().lower().startswith("overall")
    screenshot(page, "eval")
    phone.goto(f"{live_server}/eval")
    assert phone.locator(".eval-table").count() == 1
    screenshot(phone, "eval-phone")


def test_thumbs_up_refines_and_saves_a_category(page, phone, live_server):
    page.goto(f"{live_server}/search?q=red")
    page.locator("a.thumb-up").first.click()
    page.wait_for_url(re.compile(r"up="))
    assert page.locator(".feedback-panel").inner_text().startswith("Refined by 1 scene marked up")
    assert page.locator("a.thumb-up.on").count() == 1
    phone.goto(page.url)
    screenshot(phone, "search-feedback-phone")
    refined = page.url.split(live_server, 1)[1]
    _sign_in(page, live_server, refined)
    page.fill("form.save-category input[name=name]", "Red shots")
    screenshot(page, "search-feedback")
    page.click("form.save-category button[type=submit]")
    page.wait_for_url(re.compile(r"/browse/category/red-shots$"))
    assert "Saved category Red shots" in page.locator(".flash-success").inner_text()
    assert page.locator("a[href^='/videos/']").count() >= 1


def test_mark_a_video_reviewed_on_its_page(page, live_server, live_data):
    vid = live_data.ids["meadow"]
    _sign_in(page, live_server, f"/videos/{vid}")
    page.select_option("#reviewed-form select[name=category]", "cool/green")
    page.click("#reviewed-form button[name=mark]")
    page.wait_for_url(re.compile(rf"/videos/{vid}(#curator)?$"))
    assert "Marked reviewed for cool/green" in page.locator(".flash-success").inner_text()
    assert page.locator(".reviewed-mark").inner_text().startswith("✓ cool/green")
    page.locator("#reviewed-form").scroll_into_view_if_needed()
    screenshot(page, "video-reviewed")
