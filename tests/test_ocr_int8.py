"""The int8 text recogniser (indexer.models.ocr_int8): made once from RapidOCR's real recogniser,
checked against fp32 on lines it was not calibrated on, kept in the cache, and fp32 wherever it
cannot be made or is not wanted."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from indexer.errors import ModelUnavailableError
from indexer.models import ocr, ocr_int8

pytest.importorskip("rapidocr")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def made():
    """The session cache's int8 copy (made here if no test made it before)."""
    shipped = ocr.model_files()[1]
    reader = ocr.load_reader(precision="auto")
    found = ocr_int8.cached(shipped)
    assert found is not None
    return shipped, reader, found


def test_drawn_lines_vary_and_fit_their_text():
    lines = list(ocr_int8.draw_lines(12, seed=5))
    assert len(lines) == 12 and all(line.dtype == np.uint8 and line.ndim == 3 for line in lines)
    heights = {line.shape[0] for line in lines}
    assert len(heights) > 3  # many type sizes
    assert all(line.shape[1] > line.shape[0] for line in lines)  # a line is wider than high
    assert [line.shape for line in ocr_int8.draw_lines(3, seed=5)] == [line.shape for line in lines[:3]]


@pytest.mark.slow
def test_int8_copy_agrees_with_fp32_and_is_used_where_faster(made):
    shipped, reader, (path, verdict) = made
    assert path.is_file() and path != shipped
    assert 0.0 <= verdict.agreement <= 1.0 and verdict.fp32_ms > 0 and verdict.int8_ms > 0
    assert verdict.used == (verdict.agreement >= ocr_int8.MIN_AGREEMENT and verdict.int8_ms < verdict.fp32_ms)
    assert reader.recogniser == (path if verdict.used else shipped)
    # on held-out lines (other seed, other words) the int8 copy reads what fp32 reads
    fp32 = ocr.load_reader(precision="fp32")
    int8 = ocr.TextReader(*ocr.model_files()[:1], path)
    images = [ocr.line_image(crop) for crop in ocr_int8.draw_lines(24, seed=9, words=ocr_int8._CHECK_WORDS)]
    same = np.mean([fp32._read_line(image)[0] == int8._read_line(image)[0] for image in images])
    assert same >= ocr_int8.MIN_AGREEMENT


@pytest.mark.slow
def test_copy_is_reused_and_remade_when_its_verdict_is_unreadable(made, monkeypatch):
    shipped, _reader, (path, _verdict) = made
    stamp = path.stat().st_mtime_ns
    monkeypatch.setattr(ocr_int8, "_quantise", lambda *a: pytest.fail("quantised again"))
    ocr.load_reader()
    assert path.stat().st_mtime_ns == stamp
    verdict_file = path.with_suffix(".json")
    saved, model = verdict_file.read_text(), path.read_bytes()
    verdict_file.write_text("{not json")
    remade = []
    monkeypatch.setattr(ocr_int8, "_quantise",
                        lambda source, target, model_input: remade.append(target.write_bytes(model)))
    try:
        again = ocr_int8.int8_recogniser(shipped, lambda model, crop: ("same", 1.0), lambda crop: None)
        assert remade and again is not None and again[0] == path
        assert json.loads(verdict_file.read_text())["agreement"] == 1.0
    finally:
        verdict_file.write_text(saved)


def test_fp32_when_asked_or_when_no_copy_can_be_made(monkeypatch, tmp_path, caplog):
    shipped = ocr.model_files()[1]
    assert ocr.load_reader(precision="fp32").recogniser == shipped
    monkeypatch.setenv(ocr_int8.PRECISION_ENV, "fp32")
    assert ocr.load_reader().recogniser == shipped
    monkeypatch.delenv(ocr_int8.PRECISION_ENV)
    with pytest.raises(ModelUnavailableError, match="REELSEARCH_OCR_PRECISION.*auto or fp32, got 'int4'"):
        ocr.load_reader(precision="int4")
    # a cache that cannot be written: fp32, and the log says where and why
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv(ocr_int8.CACHE_ENV, str(blocked / "cache"))
    with caplog.at_level("INFO", logger="indexer.models"):
        assert ocr.load_reader().recogniser == shipped
    assert "stays fp32: cannot keep its int8 copy" in caplog.text
    # no onnx (the quantiser's dependency): fp32, and the log says how to get it
    monkeypatch.setenv(ocr_int8.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "onnx", None)
    caplog.clear()
    with caplog.at_level("INFO", logger="indexer.models"):
        assert ocr.load_reader().recogniser == shipped
    assert "pip install onnx" in caplog.text
    assert not list((tmp_path / "cache").rglob("*.onnx"))


def test_copy_that_reads_differently_is_kept_but_not_used(monkeypatch, tmp_path):
    monkeypatch.setenv(ocr_int8.CACHE_ENV, str(tmp_path))
    shipped = ocr.model_files()[1]
    monkeypatch.setattr(ocr_int8, "_quantise",
                        lambda source, target, model_input: target.write_bytes(source.read_bytes()))
    reads = iter(range(10**6))
    path, verdict = ocr_int8.int8_recogniser(shipped, lambda model, crop: (str(next(reads)), 1.0), lambda crop: None)
    assert verdict.agreement == 0.0 and not verdict.used and path.is_file()
    assert ocr.load_reader().recogniser == shipped  # the kept verdict says: not used


def test_index_says_once_that_it_makes_the_copy(monkeypatch, tmp_path, capsys):
    from indexer.cli.words import word_extractors
    from indexer.words import onscreen

    monkeypatch.setattr(onscreen, "shared_reader", lambda: None)  # loading itself is tested above
    monkeypatch.setenv(ocr_int8.CACHE_ENV, str(tmp_path))
    with word_extractors(True, "none"):
        pass
    assert "making the int8 text recogniser, once" in capsys.readouterr().err
    monkeypatch.setenv(ocr_int8.PRECISION_ENV, "fp32")  # nothing to make: nothing said
    with word_extractors(True, "none"):
        pass
    assert "int8" not in capsys.readouterr().err


def test_a_quantiser_failure_leaves_fp32_and_no_file(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv(ocr_int8.CACHE_ENV, str(tmp_path))

    def fails(source, target, model_input):
        target.write_bytes(b"half a model")
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(ocr_int8, "_quantise", fails)
    with caplog.at_level("WARNING", logger="indexer.models"):
        assert ocr.load_reader().recogniser == ocr.model_files()[1]
    assert "could not be made (RuntimeError: unsupported operator)" in caplog.text
    assert not list(tmp_path.rglob("*.onnx"))
