"""On-screen text with the real RapidOCR models: PIL-drawn captions at known times, indexed by
``reelsearch index`` and found by ``text:`` queries, reports and fused queries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from media import COLOUR_TAXONOMY
from words_media import Caption, Shot, index_folder, make_words_video, run_cli

from indexer.models.colour import COLOURS
from indexer.models.ocr import ReadLine
from indexer.types import Picture, SampledFrame
from indexer.words.onscreen import (OnScreenText, changed_region, grey_picture, grey_thumbnail, layout_mask,
                                     picture_rgb, text_cells)

pytest.importorskip("rapidocr")
pytestmark = pytest.mark.slow

EVERY = 0.5
RED, BLUE = COLOURS["red"], COLOURS["blue"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """Three short videos (10 fps) indexed with OCR on; returns (data dir, truths by file name)."""
    folder = tmp_path_factory.mktemp("text_videos")
    truths = {
        # red shot: "SPF 30" from 0.7 s to the cut at 2.0; blue shot: "Only 1.99" from the cut to 3.3 s
        "cuts.mkv": make_words_video(folder / "cuts.mkv", [
            Shot(RED, 20, (Caption("SPF 30", 7, 19, (60, 60), 56),
                           Caption("Drink responsibly", 10, 19, (60, 240), 36))),
            Shot(BLUE, 20, (Caption("Only 1.99", 0, 12, (60, 180), 48),))], audio="none"),
        "blue_spf.mkv": make_words_video(folder / "blue_spf.mkv", [
            Shot(BLUE, 15, (Caption("SPF 30", 0, 14, (60, 60), 56),))], audio="none"),
        "red_plain.mkv": make_words_video(folder / "red_plain.mkv", [Shot(RED, 15)], audio="none"),
    }
    taxonomy = folder / "colours.toml"
    # red requires a disclaimer, as the default taxonomy's alcohol does
    taxonomy.write_text(COLOUR_TAXONOMY.replace('id = "red"\n', 'id = "red"\ndisclaimer = "drink responsibly"\n'))
    data = tmp_path_factory.mktemp("index")
    output = index_folder(folder, data, taxonomy, "--every", str(EVERY), env={"REELSEARCH_OCR": "1"})
    return data, taxonomy, truths, output


def test_index_line_counts_the_lines_read(indexed):
    _data, _tax, _truths, output = indexed
    line = next(row for row in output.splitlines() if "cuts.mkv" in row)
    assert "words: 3 on-screen lines" in line


def test_text_query_finds_each_caption_within_one_sample_and_at_cuts_to_the_frame(indexed):
    data, taxonomy, truths, _ = indexed
    truth = truths["cuts.mkv"].text_truth
    for text in ("SPF 30", "Only 1.99"):
        rows = [json.loads(line) for line in run_cli(data, taxonomy, "search", f'text:"{text}"', "--json").splitlines()]
        row = next(r for r in rows if r["path"].endswith("cuts.mkv"))
        (scene,) = row["scenes"]
        start, end = truth[text]
        assert start <= scene["start"] <= start + EVERY + 1e-6, (text, scene, truth)
        assert end <= scene["end"] <= end + EVERY + 1e-6, (text, scene, truth)
        (word,) = scene["words"]
        assert word["kind"] == "text" and [p for p, hit in word["matched"] if hit]
    spf = [json.loads(line) for line in run_cli(data, taxonomy, "search", 'text:"spf 30"', "--json").splitlines()]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in spf) == ["blue_spf.mkv", "cuts.mkv"]
    cut_scene = next(r for r in spf if r["path"].endswith("cuts.mkv"))["scenes"][0]
    assert cut_scene["end"] == pytest.approx(2.0, abs=1e-6)  # the cut ends it: to the frame
    only = [json.loads(line) for line in run_cli(data, taxonomy, "search", 'text:"only 1.99"', "--json").splitlines()]
    assert only[0]["scenes"][0]["start"] == pytest.approx(2.0, abs=1e-6)  # the cut starts it


def test_report_on_a_text_clause(indexed):
    data, taxonomy, truths, _ = indexed
    video = str(truths["cuts.mkv"].path)
    report = json.loads(run_cli(data, taxonomy, "report", video, "--label", 'text:"SPF 30"', "--json"))
    assert report["contains"] is True and report["kind"] == "text"
    assert 0.7 <= report["first_appearance"] <= 0.7 + EVERY
    assert report["segments"][0]["end"] == pytest.approx(2.0, abs=1e-6)
    assert report["segments"][0]["end_uncertainty"] == 0
    assert 2.0 - 0.7 - EVERY <= report["total_duration"] <= 2.0 - 0.7 + 1e-6
    absent = json.loads(run_cli(data, taxonomy, "report", video, "--label", 'text:"free delivery"', "--json"))
    assert absent["contains"] is False


def test_fused_query_ranks_the_scene_with_both_first(indexed):
    data, taxonomy, _truths, _ = indexed
    rows = [json.loads(line) for line in run_cli(data, taxonomy, "search", 'red text:"SPF 30"', "--json").splitlines()]
    names = [r["path"].rsplit("/", 1)[1] for r in rows]
    assert names[0] == "cuts.mkv", names
    assert set(names) == {"cuts.mkv", "blue_spf.mkv", "red_plain.mkv"}
    best = max(rows[0]["scenes"], key=lambda s: s["score"])
    assert best["words"] and best["start"] < 2.0  # the red shot, while SPF 30 is on screen
    table = run_cli(data, taxonomy, "search", 'red text:"SPF 30"')
    assert "«SPF 30»" in table


def test_filters_apply_to_word_queries(indexed):
    data, taxonomy, _truths, _ = indexed
    output = run_cli(data, taxonomy, "search", 'text:"SPF 30"', "--category", "red", "--json")
    names = [json.loads(line)["path"].rsplit("/", 1)[1] for line in output.splitlines()]
    assert names == ["cuts.mkv"]


class BlockReader:
    """A stand-in for the OCR models on drawn blocks: the detector finds every bright block (in
    the region asked; striped blocks count as one), the recogniser reads a block of grey 255 as
    "SPF 30", 170 as "SPF 50" and anything else as no text. It records what it was asked."""

    TEXTS = {255: "SPF 30", 170: "SPF 50"}

    def __init__(self):
        self.regions, self.recognised = [], []

    def detect(self, picture, region=None):
        import cv2

        self.regions.append(region)
        h, w = picture.shape[:2]
        bright = cv2.dilate((picture[..., 0] > 150).astype(np.uint8), np.ones((1, 3), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(bright)
        boxes = np.array([(x / w, y / h, (x + bw) / w, (y + bh) / h) for x, y, bw, bh, _ in stats[1:count]])
        boxes = boxes.reshape(-1, 4)
        if region is not None:
            inside = (boxes[:, 0] < region[2]) & (region[0] < boxes[:, 2]) & (boxes[:, 1] < region[3]) & (region[1] < boxes[:, 3])
            boxes = boxes[inside]
        return boxes

    def recognise(self, picture, boxes, memory=None):
        h, w = picture.shape[:2]
        lines = []
        for x0, y0, x1, y1 in boxes:
            value = int(picture[int(y0 * h): int(y1 * h), int(x0 * w): int(x1 * w), 0].max())
            self.recognised.append(value)
            text = self.TEXTS.get(value)
            lines.append(ReadLine(text, 0.9, (x0, y0, x1, y1)) if text else None)
        return lines


def _frame(time, picture, shot_start=False):
    return SampledFrame(time, int(time * 10), np.zeros((4, 4, 3), np.uint8), shot_start=shot_start,
                        picture=Picture(rgb=picture))


def _strokes(picture, rows, cols, value):
    """Draw a block of 2-pixel strokes (type, as far as edges go) of grey ``value``; returns ``picture``."""
    picture[rows, cols] = 0
    block = picture[rows, cols]
    block[:, 0::4] = value
    block[:, 1::4] = value
    return picture


def test_gate_detects_only_where_text_like_pixels_moved_and_recognises_only_new_or_changed_boxes():
    reader = BlockReader()
    ocr = OnScreenText(reader)
    plain = np.zeros((270, 480, 3), np.uint8)
    plain[...] = 60
    titled = _strokes(plain.copy(), slice(30, 60), slice(40, 200), 255)  # "SPF 30"
    ocr.frame(_frame(0.0, titled))  # the first frame: where there are strokes, every box read
    (first,) = reader.regions
    assert first is not None and first[0] < 40 / 480 and first[2] > 200 / 480 and first[3] < 0.5
    assert reader.recognised == [255]
    ocr.frame(_frame(0.5, titled.copy()))  # nothing moved: neither model runs
    assert len(reader.regions) == 1
    disc = titled.copy()
    disc[200:260, 300:360] = 200  # a plain shape appears far from the caption: pixels move, no strokes
    ocr.frame(_frame(1.0, disc))
    assert len(reader.regions) == 1 and ocr.spared == 1
    shape = _strokes(titled.copy(), slice(200, 260), slice(300, 360), 200)  # a striped object the detector takes for text
    ocr.frame(_frame(1.5, shape))
    region = reader.regions[-1]
    assert region is not None and region[0] > 0.5 and region[1] > 0.6  # only the changed part is looked at
    assert reader.recognised == [255, 200]  # only the new box is recognised; the caption keeps its line
    moved = _strokes(titled.copy(), slice(200, 260), slice(330, 390), 200)  # it moves on: recognised again
    ocr.frame(_frame(2.0, moved))
    assert reader.recognised == [255, 200, 200]
    price = _strokes(moved.copy(), slice(30, 60), slice(40, 200), 170)  # the caption changes in place: "SPF 50"
    ocr.frame(_frame(2.5, price))
    assert reader.recognised[-1] == 170 and reader.regions[-1] is not None
    gone = price.copy()
    gone[30:60, 40:200] = 60  # the caption goes away: no recognition needed to end it
    ocr.frame(_frame(3.0, gone))
    assert len(reader.recognised) == 4
    ocr.frame(_frame(3.5, gone.copy(), shot_start=True))  # a cut: the frame is looked at again where strokes are
    assert reader.regions[-1] is not None and reader.recognised[-1] == 200  # the object, read again
    detections = len(reader.regions)
    ocr.frame(_frame(4.0, plain.copy(), shot_start=True))  # a cut to a shot without strokes: no detector
    assert len(reader.regions) == detections
    track = ocr.finish()
    assert [(s.text, s.start, s.end) for s in track.spans] == [("SPF 30", 0.0, 2.5), ("SPF 50", 2.5, 3.0)]
    assert (track.frames, track.detections, track.region_detections, track.recognitions, track.spared) == (9, 2, 4, 5, 2)


def test_text_cells_find_type_of_every_size_but_not_plain_shapes():
    from PIL import Image, ImageDraw, ImageFont
    from words_media import FONT

    def cells(draw_on):
        image = Image.new("RGB", (1280, 720), (240, 200, 60))
        draw_on(ImageDraw.Draw(image))
        return text_cells(grey_picture(Picture(rgb=np.asarray(image))))

    assert not cells(lambda d: d.ellipse([500, 300, 800, 600], fill=(74, 34, 150))).any()  # a disc
    assert not cells(lambda d: d.rectangle([100, 100, 400, 200], fill=(0, 0, 0))).any()  # a block
    assert not cells(lambda d: d.rectangle([100, 100, 400, 200], outline=(0, 0, 0), width=4)).any()  # a frame
    for size in (14, 24, 40, 72, 200):  # legal lines, captions, a title: light type on a light ground
        found = cells(lambda d: d.text((100, 300), "Drink 50%", font=ImageFont.truetype(FONT, size), fill=(255, 255, 255)))
        rows, cols = np.nonzero(found)
        assert len(rows), size
        assert rows.min() >= 300 / 720 * 54 - 3 and cols.min() >= 100 / 1280 * 96 - 3, size  # where the type is


def test_pictures_from_planes_read_as_from_rgb():
    """The scanner's I420 planes give the gate the same grey and the models the same colours as RGB."""
    import av

    rgb = np.zeros((540, 960, 3), np.uint8)
    rgb[...] = (200, 40, 40)
    rgb[100:200, 100:500] = (255, 255, 255)
    limited = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    planes, array = Picture(yuv=limited), Picture(rgb=rgb)
    difference = np.abs(grey_picture(planes).astype(int) - grey_picture(array))
    assert difference.mean() <= 3 and np.percentile(difference, 99) <= 5  # edges of the block aside
    assert np.abs(picture_rgb(planes).astype(int) - rgb).mean() <= 3
    assert grey_picture(planes).shape == (270, 480)
    turned = Picture(rgb=rgb, rotation=90)
    assert grey_picture(turned).shape == (853, 480) and picture_rgb(turned).shape == (960, 540, 3)
    with pytest.raises(ValueError):
        Picture(yuv=limited, rgb=rgb)
    with pytest.raises(ValueError):
        Picture(yuv=limited[:-1])


def test_without_the_gate_every_frame_is_read_whole():
    reader = BlockReader()
    ocr = OnScreenText(reader, gate=False)
    titled = np.zeros((270, 480, 3), np.uint8)
    titled[30:60, 40:200] = 255
    for t in (0.0, 0.5, 1.0):
        ocr.frame(_frame(t, titled.copy()))
    track = ocr.finish()
    assert reader.regions == [None] * 3 and reader.recognised == [255] * 3
    assert [(s.text, s.start, s.end) for s in track.spans] == [("SPF 30", 0.0, 1.0)]


def test_changed_region_covers_the_moved_cells_and_the_boxes_it_touches():
    moved = np.zeros((54, 96), bool)
    assert changed_region(moved, []) is None
    moved[40:44, 60:70] = True
    x0, y0, x1, y1 = changed_region(moved, [])
    assert (x0, y0, x1, y1) == pytest.approx(((60 - 3) / 96, (40 - 3) / 54, (70 + 3) / 96, (44 + 3) / 54))
    touched = np.array([0.5, 0.8, 0.9, 0.95])  # overlaps the region: taken in whole
    apart = np.array([0.0, 0.0, 0.2, 0.1])  # far away: left out
    assert changed_region(moved, [touched, apart]) == pytest.approx((0.5, (40 - 3) / 54, 0.9, 0.95))
    assert grey_thumbnail(grey_picture(Picture(rgb=np.zeros((270, 480, 3), np.uint8)))).shape == (54, 96)
    assert layout_mask(np.array([[0.1, 0.1, 0.5, 0.3]])).sum() > 0


def test_report_on_a_category_says_how_long_its_disclaimer_was_on_screen(indexed):
    data, taxonomy, truths, _ = indexed
    report = json.loads(run_cli(data, taxonomy, "report", str(truths["cuts.mkv"].path), "--label", "red", "--json"))
    disclaimer = report["disclaimer"]
    assert disclaimer["text"] == "drink responsibly" and disclaimer["present"] is True
    assert disclaimer["required_seconds"] == pytest.approx(2.0, abs=1e-6)  # the red shot, to the cut
    assert 1.0 - EVERY <= disclaimer["on_screen_seconds"] <= 1.0 + 1e-6  # truth: 1.0 s to the cut
    assert disclaimer["spoken_seconds"] == 0
    text = run_cli(data, taxonomy, "report", str(truths["red_plain.mkv"].path), "--label", "red")
    assert 'disclaimer:       "drink responsibly" MISSING: 0.000 s of the 1.500 s' in text


def test_ray_workers_read_on_screen_text_too(tmp_path, ray_session):
    from indexer.labels.classify import LabelModel
    from indexer.labels.taxonomy import parse_taxonomy
    from indexer.models.colour import ColourEncoder
    from indexer.models.loading import encoder_spec
    from indexer.pipeline import extractors
    from indexer.pipeline.distributed import RayIndexer
    from indexer.store import Store
    from indexer.words.onscreen import OnScreenText

    make_words_video(tmp_path / "card.mkv", [Shot(BLUE, 10, (Caption("SPF 30", 0, 9, (60, 60), 56),))], audio="none")
    encoder = ColourEncoder()
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp_path / "colours.toml"), encoder)
    extractors.register("text", OnScreenText)
    try:
        with Store.open(tmp_path / "index") as store:
            store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
            (result,) = RayIndexer(store, encoder, labels, workers=1).index_paths([tmp_path / "card.mkv"])
            assert result.status == "indexed" and result.words == "1 on-screen line", result
            (hit,) = store.search_words("spf 30", "text")
            assert (hit.row.start, hit.row.end) == (0.0, 1.0)
    finally:
        extractors.unregister("text")
