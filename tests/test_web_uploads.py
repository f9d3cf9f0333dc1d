"""Uploaded query images: decoded once to about the encoder's size, a bounded number at a time.

Memory and latency under load are figures printed by benchmarks/bench_upload.py, not asserted.
"""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app

from indexer.errors import QueryError
from indexer.models.colour import COLOURS
from web import uploads
from web.uploads import DecoderBusy, UploadDecoder, decode_image


def _encoded(size: tuple[int, int], fmt: str, colour: str = "green", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, COLOURS[colour]).convert(mode)
    image.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt,mode", [("PNG", "RGB"), ("PNG", "P"), ("PNG", "RGBA"), ("JPEG", "RGB"),
                                      ("WEBP", "RGB"), ("GIF", "P"), ("TIFF", "L")])
def test_large_images_arrive_just_above_the_encoder_size(fmt, mode):
    image = decode_image(_encoded((2400, 1500), fmt, mode=mode), side=224)
    assert image.mode == "RGB"
    assert 224 <= min(image.size) < 448
    assert image.size[0] / image.size[1] == pytest.approx(2400 / 1500, rel=0.02)


def test_small_images_are_kept_and_colours_survive():
    image = decode_image(_encoded((120, 80), "PNG", "magenta"), side=224)
    assert image.size == (120, 80)
    assert image.getpixel((60, 40)) == tuple(COLOURS["magenta"])


def test_exif_orientation_is_applied():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (800, 400), (10, 200, 10)).save(out, "JPEG", exif=exif)
    assert decode_image(out.getvalue(), side=100).size[0] < decode_image(out.getvalue(), side=100).size[1]


def test_too_many_pixels_are_refused_before_decoding(monkeypatch):
    from PIL import ImageFile

    data = _encoded((1001, 1000), "PNG")
    monkeypatch.setattr(uploads, "MAX_IMAGE_PIXELS", 1000 * 1000)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    with pytest.raises(QueryError, match="too large"):
        decode_image(data, side=224)
    assert decoded == []


@pytest.mark.parametrize("data", [b"", b"not an image", _encoded((40, 40), "ICO")])
def test_unreadable_or_unaccepted_formats_are_query_errors(data):
    with pytest.raises(QueryError):
        decode_image(data, side=32)


def test_truncated_image_is_a_query_error():
    with pytest.raises(QueryError, match="cannot be decoded"):
        decode_image(_encoded((600, 400), "PNG")[:200], side=32)


def _blocking_decoder(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make decode_image wait until released; returns (started, release)."""
    started, release = threading.Event(), threading.Event()
    real = uploads.decode_image

    def slow(data: bytes, side: int) -> Image.Image:
        started.set()
        release.wait(10)
        return real(data, side)

    monkeypatch.setattr(uploads, "decode_image", slow)
    return started, release


def test_decoder_refuses_work_when_every_worker_is_busy(monkeypatch):
    started, release = _blocking_decoder(monkeypatch)
    decoder = UploadDecoder(1, retry_after=3)
    data = _encoded((64, 64), "PNG")
    results = []
    worker = threading.Thread(target=lambda: results.append(decoder.decode(data, 64)))
    worker.start()
    assert started.wait(10)
    with pytest.raises(DecoderBusy) as busy:
        decoder.decode(data, 64)
    assert busy.value.retry_after == 3
    release.set()
    worker.join()
    assert results[0].size == (64, 64)
    assert decoder.decode(data, 64).size == (64, 64)  # free again
    decoder.close()


def test_busy_image_search_is_503_with_retry_after(web_data, monkeypatch):
    started, release = _blocking_decoder(monkeypatch)
    app = make_app(web_data, IMAGE_SEARCHES=1)
    upload = lambda: {"image": (io.BytesIO(_encoded((64, 64), "PNG")), "q.png")}  # noqa: E731
    first = []
    worker = threading.Thread(target=lambda: first.append(app.test_client().post(
        "/api/search", data=upload(), content_type="multipart/form-data")))
    worker.start()
    try:
        assert started.wait(10)
        client = app.test_client()
        api = client.post("/api/search", data=upload(), content_type="multipart/form-data")
        assert api.status_code == 503 and api.headers["Retry-After"] == "2"
        assert "busy" in api.get_json()["error"]
        page = client.post("/search", data=upload(), content_type="multipart/form-data")
        assert page.status_code == 503 and page.headers["Retry-After"] == "2"
        assert client.get("/api/search?q=green").status_code == 200  # text search is not held up
    finally:
        release.set()
        worker.join()
        app.extensions["reelsearch"].close()
    assert first[0].status_code == 200


def test_the_engine_gets_a_small_decoded_image(client, web_data, monkeypatch):
    from search.engine import SearchEngine

    seen = []
    real = SearchEngine.search_image

    def spy(self, image, **kwargs):
        seen.append(image)
        return real(self, image, **kwargs)

    monkeypatch.setattr(SearchEngine, "search_image", spy)
    response = client.post("/api/search", data={"image": (io.BytesIO(_encoded((3000, 2000), "PNG")), "q.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert {r["video_id"] for r in response.get_json()["results"]} == {web_data.ids["harbour"], web_data.ids["meadow"]}
    assert isinstance(seen[0], Image.Image)  # no temporary file decoded a second time
    assert 32 <= min(seen[0].size) < 64  # the colour encoder's input side is 32
