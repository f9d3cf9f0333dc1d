"""Media routes: video streaming with HTTP Range, thumbnails, and no way to reach other files."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image
from webfixtures import *  # noqa: F401,F403  (fixtures)

from indexer.models.colour import COLOURS


def test_whole_video_with_accept_ranges(client, web_data):
    vid = web_data.ids["harbour"]
    path = web_data.videos["harbour"].path
    response = client.get(f"/media/videos/{vid}")
    assert response.status_code == 200
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.mimetype == "video/mp4"
    assert response.data == path.read_bytes()
    response.close()


@pytest.mark.parametrize("header,first,last", [("bytes=0-99", 0, 99), ("bytes=100-", 100, None),
                                               ("bytes=-50", None, None)])
def test_range_requests_are_206_with_content_range(client, web_data, header, first, last):
    vid = web_data.ids["market"]
    blob = web_data.videos["market"].path.read_bytes()
    size = len(blob)
    first = size - 50 if first is None else first
    last = size - 1 if last is None else last
    response = client.get(f"/media/videos/{vid}", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert response.data == blob[first:last + 1]
    assert int(response.headers["Content-Length"]) == last - first + 1
    response.close()


def test_unsatisfiable_range_is_416(client, web_data):
    vid = web_data.ids["market"]
    response = client.get(f"/media/videos/{vid}", headers={"Range": "bytes=99999999-"})
    assert response.status_code == 416
    response.close()


def test_media_route_serves_only_indexed_videos(writable_data):
    from webfixtures import make_app

    canary = "CANARY-" + "z" * 20
    (writable_data.data_dir / "secret_key").write_text(canary)
    (writable_data.data_dir.parent / "passwd").write_text(canary)
    app = make_app(writable_data)
    client = app.test_client()
    assert client.get("/media/videos/999").status_code == 404
    for attempt in ("/media/videos/..%2f..%2fpasswd", "/media/videos/../../passwd",
                    "/media/videos/1/../../secret_key", "/media/videos/%2e%2e", "/media/videos/-1",
                    "/media/thumbs/1/..%2f..%2fsecret_key.jpg", "/static/../secret_key",
                    "/static/..%2f..%2f..%2fsecret_key", "/media/videos/1%2f..%2f..%2fsecret_key"):
        response = client.get(attempt)
        assert response.status_code == 404, attempt
        assert canary.encode() not in response.data, attempt
        response.close()
    app.extensions["reelsearch"].close()


def test_video_whose_file_is_gone_is_404(writable_data):
    from webfixtures import make_app

    vid = writable_data.ids["meadow"]
    app = make_app(writable_data)
    path = writable_data.videos["meadow"].path
    moved = path.with_suffix(".moved")
    os.rename(path, moved)
    try:
        response = app.test_client().get(f"/media/videos/{vid}")
        assert response.status_code == 404
        assert "no longer" in response.get_data(as_text=True)
    finally:
        os.rename(moved, path)
        app.extensions["reelsearch"].close()


def test_thumbnail_is_a_small_jpeg_of_the_right_frame_and_cached(client, web_data):
    vid = web_data.ids["harbour"]
    video = web_data.videos["harbour"]
    for colour, start, end in video.scene_spans:
        ms = int((start + end) / 2 * 1000)
        response = client.get(f"/media/thumbs/{vid}/{ms}.jpg")
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "public" in response.headers["Cache-Control"]
        assert "max-age" in response.headers["Cache-Control"]
        image = Image.open(io.BytesIO(response.data)).convert("RGB")
        assert image.width == 320
        typical = np.median(np.asarray(image).reshape(-1, 3), axis=0)  # the moving square is small
        assert all(abs(a - b) < 40 for a, b in zip(typical, COLOURS[colour])), (colour, typical)
        response.close()
    cached = list((web_data.data_dir / "thumbs").rglob("*.jpg"))
    assert len(cached) >= 3
    again = client.get(f"/media/thumbs/{vid}/{int(video.scene_spans[0][2] * 500)}.jpg",
                       headers={"If-None-Match": "nothing"})
    assert again.status_code == 200
    etag = again.headers["ETag"]
    again.close()
    not_modified = client.get(f"/media/thumbs/{vid}/{int(video.scene_spans[0][2] * 500)}.jpg",
                              headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    not_modified.close()


def test_thumbnail_time_past_the_end_is_clamped_and_unknown_video_404(client, web_data):
    vid = web_data.ids["meadow"]
    response = client.get(f"/media/thumbs/{vid}/99999999.jpg")
    assert response.status_code == 200
    response.close()
    assert client.get("/media/thumbs/999/0.jpg").status_code == 404


def test_thumbnail_frame_is_never_inside_a_transition():
    from web.media import _snap

    frames = [0.0, 1.0, 2.0, 2.4, 2.8, 3.2, 4.0, 5.0]
    bounds = [(2.2, 3.0), (4.5, 4.5)]  # a dissolve from 2.2 to 3.0 s, a cut at 4.5 s
    assert _snap(frames, bounds, 2.3) == 2.0  # first half of the dissolve: the shot before it
    assert _snap(frames, bounds, 2.8) == 3.2  # second half: the shot after it
    assert _snap(frames, bounds, 4.2) == 4.0 and _snap(frames, bounds, 4.6) == 5.0  # cuts as before
    assert _snap([0.0, 2.4], bounds, 2.6) == 3.25  # no frame outside it there: a grid time after it
    assert _snap([2.4], [(2.0, 2.3)], 2.1) == 1.75  # ... or before it
