"""The OCR models (indexer.models.ocr): PP-OCR from RapidOCR's wheel on onnxruntime, read on
PIL-drawn lines; the detector's post-processing on made-up probability maps."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from words_media import FONT

from indexer.errors import ModelUnavailableError
from indexer.models import ocr

pytest.importorskip("rapidocr")


@pytest.fixture(scope="module")
def reader():
    return ocr.load_reader()


def _card(lines, size=(960, 540), colour=(30, 90, 170)):
    """A frame with each (text, (x, y), font size) drawn white with a black outline."""
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    for text, xy, height in lines:
        draw.text(xy, text, fill=(255, 255, 255), font=ImageFont.truetype(FONT, height), stroke_width=2,
                  stroke_fill=(0, 0, 0))
    return np.asarray(img)


def test_reads_drawn_lines_with_their_boxes(reader):
    picture = _card([("Only $1.99 this week", (480, 54), 30), ("Drink responsibly", (96, 300), 48)])
    lines = sorted(reader.read(picture), key=lambda line: line.box[1])
    assert [line.text for line in lines] == ["Only $1.99 this week", "Drink responsibly"]
    top, bottom = (line.box for line in lines)
    assert top[0] == pytest.approx(0.5, abs=0.03) and top[1] == pytest.approx(0.1, abs=0.04)
    assert bottom[0] == pytest.approx(0.1, abs=0.03) and bottom[1] == pytest.approx(300 / 540, abs=0.04)
    assert all(line.confidence >= ocr.MIN_CONFIDENCE for line in lines)


def test_a_region_is_seen_at_the_whole_frames_scale_and_answered_in_frame_fractions(reader):
    picture = _card([("Free delivery", (560, 380), 40)])
    (whole,) = reader.detect(picture)
    (inside,) = reader.detect(picture, (0.5, 0.6, 1.0, 1.0))
    assert inside == pytest.approx(whole, abs=0.01)
    assert len(reader.detect(picture, (0.0, 0.0, 0.4, 0.5))) == 0  # nothing drawn there


def test_recognise_answers_each_box_in_order_none_where_nothing_is_legible(reader):
    picture = _card([("SPF 30", (96, 100), 56)])
    (box,) = reader.detect(picture)
    blank = np.array([0.6, 0.6, 0.9, 0.8], np.float32)
    first, second = reader.recognise(picture, np.stack([blank, box]))
    assert first is None and second.text == "SPF 30"
    assert second.box == pytest.approx(tuple(box))


def test_a_line_seen_again_unchanged_is_remembered_a_changed_one_read_again(reader):
    memory = ocr.LineMemory()
    picture = _card([("SPF 30 sun cream", (96, 100), 56)])
    (box,) = reader.detect(picture)
    (first,) = reader.recognise(picture, box[None], memory)
    (again,) = reader.recognise(picture.copy(), box[None], memory)
    assert memory.hits == 1 and again == first and first.text == "SPF 30 sun cream"
    changed = _card([("SPF 50 sun cream", (96, 100), 56)])  # one character in place
    (other,) = reader.recognise(changed, box[None], memory)
    assert memory.hits == 1 and other.text == "SPF 50 sun cream"


def test_text_boxes_are_the_confident_regions_grown_by_unclip():
    probability = np.zeros((64, 96), np.float32)
    probability[10:20, 10:50] = 0.9  # a line: 40 x 10
    probability[40:50, 60:70] = 0.35  # above the pixel threshold, below the box threshold: dropped
    probability[55:57, 5:30] = 0.9  # 2 px high (3 after dilation) ...
    boxes = ocr._text_boxes(probability)
    w, h = 41, 11  # the 2x2 dilation grows the region by one pixel right and down
    grow = w * h * ocr.UNCLIP / (2 * (w + h))
    assert boxes[0] == pytest.approx([10 - grow, 10 - grow, 10 + w + grow, 10 + h + grow])
    assert len(boxes) == 2 and boxes[1][1] < 55 < boxes[1][3]  # ... is kept; the faint one is not


def test_missing_packages_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    with pytest.raises(ModelUnavailableError, match=r"rapidocr is not installed.*pip install 'reelsearch\[words\]'"):
        ocr.load_reader()
