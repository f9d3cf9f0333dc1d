"""Server-rendered pages: search (text, image, like, filters, empty), browse, videos, video."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from PIL import Image
from webfixtures import *  # noqa: F401,F403  (fixtures)

from indexer.models.colour import COLOURS


def _png(colour: str, size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), COLOURS[colour]).save(buf, "PNG")
    return buf.getvalue()


def _scene_links(html: str) -> list[tuple[int, float]]:
    """(video id, t) of every scene link on a results page."""
    return [(int(v), float(t)) for v, t in re.findall(r'class="scene-link" href="/videos/(\d+)\?t=([0-9.]+)"', html)]


def test_search_page_without_query_shows_the_form_and_archive_size(client):
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="q"' in html and 'type="file"' in html and 'name="category"' in html
    assert "3 indexed videos" in html


def test_text_search_finds_the_red_scenes_at_their_times(client, web_data):
    page = client.get("/search?q=red")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    links = _scene_links(html)
    red = {web_data.ids[name]: start for name, video in web_data.videos.items()
           for colour, start, _end in video.scene_spans if colour == "red"}
    assert {vid for vid, _t in links} == set(red)
    for vid, t in links:
        assert t == pytest.approx(red[vid], abs=0.002)
    assert html.count('class="card result ') == len(red)
    assert "More like this" in html and "/media/thumbs/" in html
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} – \d\d:\d\d:\d\d\.\d{3}", html)


def test_category_filter_limits_results(client, web_data):
    page = client.get("/search?q=red&category=alcohol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert {vid for vid, _ in _scene_links(html)} == {web_data.ids["market"]}
    assert 'value="alcohol" selected' in html


def test_unknown_category_filter_is_a_clear_error(client):
    page = client.get("/search?q=red&category=dinosaurs")
    assert page.status_code == 404
    assert "dinosaurs" in page.get_data(as_text=True)


def test_empty_result_says_so_and_suggests_what_to_try(client):
    page = client.get("/search?q=giraffe")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "No matching scenes" in html
    assert "generic description" in html  # why, in plain words
    assert "browse by category" in html
    assert not _scene_links(html)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "cosine" not in text and "p >=" not in text and "0.50" not in text
    assert "categor" not in text.split("No matching scenes")[1].split("browse by category")[0]  # no filter set


def test_empty_result_with_a_filter_suggests_removing_it(client):
    html = client.get("/search?q=giraffe&category=cool").get_data(as_text=True)
    assert "No matching scenes for “giraffe” in Cool colours" in html
    assert "Search all categories instead of only Cool colours." in html  # no parent to suggest
    child = client.get("/search?q=giraffe&category=cool/blue").get_data(as_text=True)
    assert "instead of only Blue, or Cool colours (its parent category)." in child
    nothing = client.get("/search?q=red&category=night").get_data(as_text=True)
    assert "No indexed video shows Night" in nothing and "cosine" not in nothing


def test_malformed_query_is_400_with_the_reason(client):
    page = client.get('/search?q="unbalanced')
    assert page.status_code == 400
    assert "quote" in page.get_data(as_text=True).lower()


def test_script_in_query_is_shown_as_text(client):
    page = client.get("/search", query_string={"q": "<script>alert(1)</script>"})
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_post_without_image_redirects_to_a_shareable_get(client):
    response = client.post("/search", data={"q": "red", "category": "warm"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/search?q=red&category=warm")


def test_search_by_uploaded_image(client, web_data):
    response = client.post("/search", data={"image": (io.BytesIO(_png("green")), "green.png")},
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    ids = {vid for vid, _ in _scene_links(html)}
    assert ids == {web_data.ids["harbour"], web_data.ids["meadow"]}
    assert "the uploaded image" in html


def test_unreadable_upload_is_400(client):
    response = client.post("/search", data={"image": (io.BytesIO(b"not an image"), "x.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "not a readable image" in response.get_data(as_text=True)


def test_upload_over_the_limit_is_413_with_a_clear_message(web_data):
    from webfixtures import make_app

    app = make_app(web_data, MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    response = client.post("/search", data={"image": (io.BytesIO(b"x" * 5000), "big.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "upload too large" in response.get_data(as_text=True)
    api = client.post("/api/search", data={"image": (io.BytesIO(b"x" * 5000), "big.png")},
                      content_type="multipart/form-data")
    assert api.status_code == 413
    assert api.get_json()["error"].startswith("upload too large: the limit is")
    app.extensions["reelsearch"].close()


def test_more_like_this(client, web_data):
    market = web_data.ids["market"]
    magenta = next(s for s in web_data.videos["market"].scene_spans if s[0] == "magenta")
    page = client.get(f"/search?like={market}@{(magenta[1] + magenta[2]) / 2}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    links = _scene_links(html)
    assert links and links[0][0] == market
    assert links[0][1] == pytest.approx(magenta[1], abs=0.002)
    assert "More like" in html and "market.mp4" in html


@pytest.mark.parametrize("like", ["nonsense", "1@", "@3", "0@1", "1@-2", "1@nan"])
def test_malformed_like_is_400(client, like):
    assert client.get("/search", query_string={"like": like}).status_code == 400


def test_like_unknown_video_is_404(client):
    assert client.get("/search?like=999@1").status_code == 404


def test_browse_tree_counts_videos_and_screen_time(client, web_data):
    page = client.get("/browse")
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    row = r'href="/browse/category/([^"]+)">([^<]+)</a>.*?<span class="num videos">(\d+)</span>'
    counts = {cid: int(n) for cid, _name, n in re.findall(row, html, re.S)}
    truth = {c: {n for n, v in web_data.videos.items() if any(s[0] == c for s in v.scene_spans)}
             for c in ("red", "yellow", "blue", "green", "magenta")}
    assert counts["warm/red"] == len(truth["red"])
    assert counts["cool/green"] == len(truth["green"])
    assert counts["warm"] == len(truth["red"] | truth["yellow"])
    assert counts["alcohol"] == len(truth["magenta"])
    assert "night" not in counts and "Show all 8 categories" in html  # empty ones hidden
    assert "<details" in html and "<details class=\"tree-node depth-0\" open" not in html  # collapsed
    everything = unescape(client.get("/browse?all=1").get_data(as_text=True))
    assert {cid: int(n) for cid, _name, n in re.findall(row, everything, re.S)}["night"] == 0
    assert "restricted" in html.lower()
    found = unescape(client.get("/browse?filter=RED").get_data(as_text=True))
    assert [cid for cid, *_ in re.findall(row, found, re.S)] == ["warm", "warm/red"]
    assert "No category matches “giraffe”" in client.get("/browse?filter=giraffe").get_data(as_text=True)


def test_category_page_lists_where_and_how_long(client, web_data):
    page = client.get("/browse/category/warm")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    market = web_data.ids["market"]
    # market shows yellow then red: both children of warm, listed with their start times
    starts = [float(t) for t in re.findall(rf'href="/videos/{market}\?t=([0-9.]+)">', html)]
    truth = [s for c, s, _e in web_data.videos["market"].scene_spans if c in ("yellow", "red")]
    assert sorted(set(round(t, 2) for t in starts)) == [round(t, 2) for t in truth]
    assert "Red" in html and "Yellow" in html


def test_unknown_category_page_is_404(client):
    assert client.get("/browse/category/nope").status_code == 404
    assert client.get("/browse/tag/nope").status_code == 404


def test_videos_list(client, web_data):
    html = client.get("/videos").get_data(as_text=True)
    for name, vid in web_data.ids.items():
        assert f'href="/videos/{vid}">{name}.mp4</a>' in html


_BLOCK = re.compile(r'<a class="seg ([^"]*)" href="[^"]*" data-start="([0-9.e-]+)" data-end="([0-9.e-]+)"'
                    r'[^>]*?style="left: ([0-9.]+)%; width: ([0-9.]+)%;')


def test_video_page_has_player_timeline_and_seek_time(client, web_data):
    vid = web_data.ids["harbour"]
    video = web_data.videos["harbour"]
    page = client.get(f"/videos/{vid}?t=2.5")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'src="/media/videos/{vid}"' in html and 'data-start="2.5"' in html
    assert "Curate labels" not in html  # not signed in
    blocks = _BLOCK.findall(html)
    assert blocks
    for _cls, start, end, left, width in blocks:  # drawn to scale
        assert float(left) == pytest.approx(100 * float(start) / video.duration, abs=0.01)
        assert float(width) == pytest.approx(100 * (float(end) - float(start)) / video.duration, abs=0.3)
    shots_html = html[html.index("shots-lane"):]
    shot_starts = [float(s) for _c, s, *_ in _BLOCK.findall(shots_html)]
    assert shot_starts == pytest.approx([0.0, *video.cut_times], abs=1 / 29.97)
    lanes = re.findall(r'<div class="lane-name" title="([^"]+)">', html)
    assert "warm/red" in lanes and "cool/blue" in lanes and "__shots__" in lanes


def test_video_page_report_for_category_and_prompt(client, web_data):
    vid = web_data.ids["harbour"]
    red = next(s for s in web_data.videos["harbour"].scene_spans if s[0] == "red")
    html = client.get(f"/videos/{vid}?label=Red").get_data(as_text=True)
    assert "warm/red" in html and ">yes<" in html
    assert f"{red[2] - red[1]:.1f} s" in html
    prompt = client.get(f"/videos/{vid}?label=a+green+field").get_data(as_text=True)
    assert "(prompt)" in prompt and ">yes<" in prompt
    absent = client.get(f"/videos/{vid}?label=Yellow").get_data(as_text=True)
    assert ">no<" in absent


def test_video_page_errors(client, web_data):
    vid = web_data.ids["harbour"]
    assert client.get("/videos/999").status_code == 404
    assert client.get(f"/videos/{vid}?t=abc").status_code == 400
    long_label = client.get(f"/videos/{vid}", query_string={"label": "x" * 500})
    assert long_label.status_code == 400 and "too long" in long_label.get_data(as_text=True)


def test_script_in_report_label_is_escaped(client, web_data):
    vid = web_data.ids["harbour"]
    html = client.get(f"/videos/{vid}", query_string={"label": "<script>x()</script>"}).get_data(as_text=True)
    assert "<script>x()" not in html
    assert "&lt;script&gt;x()" in html
