"""On-screen text with the real RapidOCR models: PIL-drawn captions at known times, indexed by
``reelsearch index`` and found by ``text:`` queries, reports and fused queries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from media import COLOUR_TAXONOMY
from words_media import Caption, Shot, index_folder, make_words_video, run_cli

from indexer.models.colour import COLOURS
from indexer.words.onscreen import READ, SAME, VERIFY, TextChangeGate, grey_thumbnail, layout_mask

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


def test_gate_reads_again_only_where_text_changed():
    def detect(picture):
        boxes = []
        if picture[20, 20].max() == 255:  # the caption
            boxes.append([0.1, 0.1, 0.5, 0.3])
        if picture[75, 130].max() == 200:  # something the detector takes for text
            boxes.append([0.6, 0.7, 1.0, 1.0])
        return np.array(boxes).reshape(-1, 4)

    gate = TextChangeGate(detect)
    plain = np.zeros((90, 160, 3), np.uint8)
    titled = plain.copy()
    titled[15:30, 15:80] = 255
    gate.looked(plain, detect(plain))
    assert gate.check(plain.copy())[0] == SAME and gate.detections == 0  # nothing moved: no detector
    decision, boxes = gate.check(titled)  # text appeared: only the new box is to be recognised
    assert decision == VERIFY and boxes.tolist() == [[0.1, 0.1, 0.5, 0.3]]
    gate.looked(titled, detect(titled))
    moved = titled.copy()
    moved[60:90, 100:160] = 200  # the picture changes away from the caption: a new box to verify
    decision, boxes = gate.check(moved)
    assert decision == VERIFY and boxes.tolist() == [[0.6, 0.7, 1.0, 1.0]]
    gate.accept(moved)  # it held no text
    assert gate.check(moved.copy())[0] == SAME
    gone = moved.copy()
    gone[15:30, 15:80] = 0  # the caption went away
    assert gate.check(gone)[0] == READ
    changed = titled.copy()
    changed[18:27, 30:60] = 0  # the caption's pixels changed in place (a new price)
    assert gate.check(changed)[0] == READ
    assert grey_thumbnail(plain).shape == (54, 96) and layout_mask(np.array([[0.1, 0.1, 0.5, 0.3]])).sum() > 0


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
