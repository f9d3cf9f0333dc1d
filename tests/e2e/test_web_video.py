"""The video page at work in headless Chromium: frame stepping by keys and buttons, a ruler
whose labels are exact and never overlap, the report drawn on the timeline."""

from __future__ import annotations

import pytest
from screenshots import screenshot

pytestmark = pytest.mark.e2e

FRAME = 1001 / 30000  # the generated videos are 29.97 fps
READY = """() => { const v = document.getElementById('player');
  return v && v.readyState >= 2 && !v.seeking; }"""
LABEL_BOXES = """() => Array.from(document.querySelectorAll('.ruler .tick')).filter(
  t => getComputedStyle(t).color !== 'rgba(0, 0, 0, 0)').map(t => {
    const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.right]; })"""


def _now(tab) -> float:
    tab.wait_for_function(READY)
    return tab.evaluate("() => document.getElementById('player').currentTime")


def _open(tab, base: str, video_id: int, query: str = "") -> None:
    tab.goto(f"{base}/videos/{video_id}{query}")
    tab.wait_for_function(READY)


def test_keys_and_buttons_step_by_frames_and_seconds(page, live_server, live_data):
    _open(page, live_server, live_data.ids["harbour"])
    page.locator("h1").click()  # focus on the page, not a form field
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert _now(page) == pytest.approx(2 * FRAME, abs=0.002)
    assert page.locator("#frame-no").inner_text() == "frame 2"
    page.keyboard.press("ArrowLeft")
    assert _now(page) == pytest.approx(FRAME, abs=0.002)
    page.keyboard.press("Shift+ArrowRight")
    assert _now(page) == pytest.approx(30 * FRAME, abs=0.002)  # one second: 29.97 frames -> 30th
    page.click(".framebar button[data-unit=frame][data-step='1']")
    assert _now(page) == pytest.approx(31 * FRAME, abs=0.002)
    page.click(".framebar button[data-unit=second][data-step='-1']")
    assert _now(page) == pytest.approx(1 * FRAME, abs=0.002)
    page.keyboard.press("l")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press("l")
    assert page.evaluate("() => document.getElementById('player').playbackRate") == 2
    page.keyboard.press("k")
    assert page.evaluate("() => document.getElementById('player').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('player').paused")
    before = _now(page)
    page.keyboard.press("j")
    assert _now(page) == pytest.approx(max(0.0, before - 1.0), abs=FRAME + 0.002)


def test_typing_in_a_field_does_not_step(page, live_server, live_data):
    _open(page, live_server, live_data.ids["harbour"])
    page.fill("#report-form input[name=label]", "l k j")
    page.press("#report-form input[name=label]", "ArrowLeft")
    assert page.evaluate("() => document.getElementById('player').paused") and _now(page) == 0


@pytest.mark.parametrize("tab_name", ["page", "phone"])
def test_ruler_labels_are_exact_and_do_not_overlap(request, tab_name, live_server, live_data):
    tab = request.getfixturevalue(tab_name)
    _open(tab, live_server, live_data.ids["market"])
    ticks = tab.evaluate("() => Array.from(document.querySelectorAll('.ruler .tick')).map(t => [t.textContent, +t.dataset.seconds])")
    assert [label for label, _s in ticks[:3]] == ["0:00", "0:01", "0:02"]
    boxes = tab.evaluate(LABEL_BOXES)
    assert len(boxes) >= 3
    for (a, _l, right), (b, left, _r) in zip(boxes, boxes[1:]):
        assert right <= left, f"ruler labels {a!r} and {b!r} overlap"


def test_report_segments_are_drawn_on_the_timeline(page, live_server, live_data):
    vid = live_data.ids["harbour"]
    _open(page, live_server, vid, "?label=a+red+scene")
    report = page.request.get(f"{live_server}/api/videos/{vid}/report?label=a+red+scene").json()
    lane = page.locator(".report-lane")
    assert lane.count() == 1 and "a red scene" in lane.locator(".lane-name").inner_text()
    starts = [float(s) for s in lane.locator(".seg").evaluate_all("els => els.map(e => e.dataset.start)")]
    assert report["segments"] and starts == pytest.approx([s["start"] for s in report["segments"]])
    page.evaluate("() => document.getElementById('timeline').scrollIntoView()")
    screenshot(page, "video-report")
