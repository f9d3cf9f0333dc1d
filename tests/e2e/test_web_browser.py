"""End-to-end in headless Chromium against a real waitress server.

search "red" -> click a scene -> the player is at the scene start; a curator signs in,
rejects a segment and adds one, and the browse page reflects both; a curator drags a segment
edge on the timeline to retime it. Each page is saved as a 1280x800 screenshot under
artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from screenshots import screenshot
from webfixtures import CURATOR, PASSWORD

pytestmark = pytest.mark.e2e

PLAYER_READY = """() => { const v = document.getElementById('player');
  return v && v.readyState >= 3 && !v.seeking && v.networkState === HTMLMediaElement.NETWORK_IDLE; }"""


def _player_time(tab) -> float:
    tab.wait_for_function(PLAYER_READY)
    tab.wait_for_timeout(2000)  # the player's loading indicator fades out slowly
    return tab.evaluate("() => document.getElementById('player').currentTime")


def test_search_then_click_a_scene_plays_from_its_start(page, live_server, live_data):
    page.goto(f"{live_server}/")
    page.fill("input[name=q]", "red")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/search\?q=red"))
    page.wait_for_load_state("networkidle")
    scenes = page.locator("a.scene-link")
    red = {live_data.ids[n]: [s for c, s, _e in v.scene_spans if c == "red"] for n, v in live_data.videos.items()}
    assert scenes.count() == sum(len(v) for v in red.values())
    screenshot(page, "search-results")

    link = scenes.nth(1)
    href = link.get_attribute("href")
    video_id = int(re.search(r"/videos/(\d+)", href).group(1))
    link.click()
    page.wait_for_url(re.compile(rf"/videos/{video_id}\?t="))
    assert _player_time(page) == pytest.approx(red[video_id][0], abs=0.1)
    screenshot(page, "video")

    # clicking a timeline segment seeks the same player
    block = page.locator(".lane-track a.seg").first
    start = float(block.get_attribute("data-start"))
    block.click()
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {start}) < 0.3")


def test_empty_search_and_browse_pages(page, live_server):
    page.goto(f"{live_server}/search?q=giraffe")
    assert page.locator(".empty h2").inner_text().startswith("No matching scenes")
    screenshot(page, "search-empty")
    page.goto(f"{live_server}/browse")
    categories = page.request.get(f"{live_server}/api/categories").json()["categories"]
    rows = page.locator("#category-tree .tree-row")
    assert rows.count() == sum(1 for c in categories if c["videos"]) < len(categories)  # empty ones hidden
    assert not page.locator("a[href='/browse/category/warm/red']").is_visible()  # collapsed
    page.click("details:has(a[href='/browse/category/warm']) > summary", position={"x": 8, "y": 8})
    assert page.locator("a[href='/browse/category/warm/red']").is_visible()
    screenshot(page, "browse")
    page.click("#toggle-empty")
    page.wait_for_url(re.compile(r"/browse\?all=1"))
    assert page.locator("#category-tree .tree-row").count() == len(categories)
    page.fill("input[name=filter]", "yell")
    page.press("input[name=filter]", "Enter")
    page.wait_for_url(re.compile(r"filter=yell"))
    assert page.locator("#category-tree .tree-row").count() == 2  # Yellow and its parent, open
    assert page.locator("a[href='/browse/category/warm/yellow']").is_visible()
    page.goto(f"{live_server}/browse")
    page.click("a[href='/browse/category/warm']")
    page.wait_for_url(re.compile("/browse/category/warm"))
    page.wait_for_load_state("networkidle")
    assert page.locator("table.listing tbody tr").count() == 2
    screenshot(page, "category")


def _browse_count(tab, base: str, category: str) -> int:
    tab.goto(f"{base}/browse")
    row = tab.locator(f".tree-row:has(a[href='/browse/category/{category}'])")
    return int(row.locator(".videos").text_content())


def test_curator_rejects_and_adds_and_browse_reflects_it(page, live_server, live_data):
    red_before = _browse_count(page, live_server, "warm/red")
    vid = live_data.ids["harbour"]
    page.goto(f"{live_server}/videos/{vid}")
    page.click("text=Curator sign in")
    page.fill("input[name=name]", CURATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(rf"/videos/{vid}$"))
    assert page.locator(".who").inner_text().endswith(CURATOR)

    row = page.locator("tr.seg-row:has(input[name=label][value='warm/red'])")
    row.locator("button:has-text('Reject')").click()
    page.wait_for_url(re.compile(rf"/videos/{vid}#segment-\d+"))
    assert "Rejected segment" in page.locator(".flash").inner_text()

    form = page.locator("#add-form")
    form.locator("input[name=label]").fill("fishing boat")
    form.locator("input[name=start]").fill("0.5")
    form.locator("input[name=end]").fill("1.5")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/videos/{vid}#segment-\d+"))
    assert "Added segment" in page.locator(".flash").inner_text()
    assert page.locator(".lane-name[title='fishing boat']").count() == 1
    assert page.locator("table.audit tbody tr").count() == 2
    _player_time(page)
    page.evaluate("() => document.getElementById('timeline').scrollIntoView()")
    screenshot(page, "video-curator")

    assert _browse_count(page, live_server, "warm/red") == red_before - 1
    tag = page.locator(".taglist li:has-text('fishing boat')")
    assert "1 video" in tag.inner_text()
    tag.locator("a").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("table.listing tbody tr").count() == 1
    assert "00:00:00.500–00:00:01.500" in page.locator("td.where").inner_text()


def test_login_page_screenshot(page, live_server):
    page.goto(f"{live_server}/login")
    screenshot(page, "login")
    page.goto(f"{live_server}/videos")
    page.wait_for_load_state("networkidle")
    screenshot(page, "videos")


def test_curator_drags_a_segment_edge_to_retime_it(page, live_server, live_data):
    vid = live_data.ids["meadow"]
    page.goto(f"{live_server}/login?next=/videos/{vid}")
    page.fill("input[name=name]", CURATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(rf"/videos/{vid}$"))
    seg = page.locator(".lane:not(.shots-lane) .seg[data-segment]").last
    seg_id = seg.get_attribute("data-segment")
    end_input = page.locator(f"input[name=end][form=edit-{seg_id}]")
    end_before = float(end_input.input_value())
    seg.scroll_into_view_if_needed()
    box = seg.bounding_box()
    track = page.locator(".lane-track").first.bounding_box()
    duration = float(page.locator("#timeline").get_attribute("data-duration"))
    target_x = box["x"] + box["width"] * 0.5  # drag the end edge to the segment's middle
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target_x, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    dragged = float(end_input.input_value())
    expected = (target_x - track["x"]) / track["width"] * duration
    assert dragged < end_before and abs(dragged - expected) < 0.1
    page.locator(f"#segment-{seg_id} button:has-text('Save')").click()
    page.wait_for_url(re.compile(rf"/videos/{vid}#segment-\d+"))
    assert "segment" in page.locator(".flash").inner_text().lower()
    saved = page.locator(f"tr.seg-row:has(input[name=end][value='{dragged:.3f}'])")
    assert saved.count() == 1 and "curator" in saved.inner_text()


def test_curator_confirms_a_new_tag_that_looks_like_a_category(page, live_server, live_data):
    vid = live_data.ids["meadow"]
    page.goto(f"{live_server}/login?next=/videos/{vid}")
    page.fill("input[name=name]", CURATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(rf"/videos/{vid}$"))

    def add(label: str) -> None:
        form = page.locator("#add-form")
        form.locator("input[name=label]").fill(label)
        form.locator("input[name=start]").fill("0.5")
        form.locator("input[name=end]").fill("1.0")
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(rf"/videos/{vid}/segments$"))

    add("Yelow")  # one letter from the category "Yellow"
    assert page.locator("h1").inner_text() == "New tag “Yelow”?"
    screenshot(page, "confirm-tag")
    page.locator("button.use-suggestion").first.click()
    page.wait_for_url(re.compile(rf"/videos/{vid}#segment-\d+"))
    assert "warm/yellow" in page.locator(".flash").inner_text()

    add("Yelow")
    page.locator("button.create-tag").click()
    page.wait_for_url(re.compile(rf"/videos/{vid}#segment-\d+"))
    assert "Yelow" in page.locator(".flash").inner_text()
    assert page.locator(".lane-name[title='Yelow']").count() == 1
