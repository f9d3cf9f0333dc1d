"""The image tower on onnxruntime in dynamic int8 (indexer.models.onnx_image): exported from the
real (tiny, random) open_clip tower into the session's cache, agreeing with fp32, chosen by
``auto`` only where its verdict says so, and the torch tower wherever it cannot be made."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np
import pytest

from indexer.errors import EncoderError
from indexer.models import onnx_image
from indexer.models.clip_encoder import OpenClipEncoder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture()
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("REELSEARCH_CACHE", str(tmp_path))
    monkeypatch.delenv(onnx_image.ENV, raising=False)
    return tmp_path


def test_onnx_tower_agrees_with_fp32_and_is_made_once(cache, monkeypatch):
    fp32 = OpenClipEncoder.tiny()
    images = onnx_image.check_images(6, fp32.image_size, seed=3)
    onnx = OpenClipEncoder.tiny(precision="onnx-int8")
    assert onnx.image_precision == "onnx-int8" and onnx.name == fp32.name  # vectors share a store
    assert onnx.spec()["precision"] == "onnx-int8"
    cosine = (onnx.encode_images(images) * fp32.encode_images(images)).sum(axis=1)
    assert cosine.min() > 0.999
    made = list(cache.rglob("*.onnx"))
    assert len(made) == 1 and made[0].with_suffix(".json").is_file()
    verdict = onnx_image.cached(fp32.name)[1]
    assert verdict.mean_cosine > 0.999 and verdict.onnx_ms > 0 and verdict.torch_ms > 0
    monkeypatch.setattr(onnx_image, "_export_int8", lambda *a: pytest.fail("exported again"))
    again = OpenClipEncoder.tiny(precision="onnx-int8")
    np.testing.assert_allclose(again.encode_images(images), onnx.encode_images(images), atol=1e-6)


def test_auto_follows_the_verdict(cache):
    first = OpenClipEncoder.tiny(precision="auto")
    path, verdict = onnx_image.cached(first.name)
    assert (first.image_precision == "onnx-int8") == verdict.used
    for used in (False, True):
        path.with_suffix(".json").write_text(json.dumps({**verdict.__dict__, "used": used}))
        auto = OpenClipEncoder.tiny(precision="auto")
        assert (auto.image_precision == "onnx-int8") is used
        assert OpenClipEncoder.tiny(precision="onnx-int8").image_precision == "onnx-int8"  # asked: always


def test_a_tower_that_disagrees_is_not_used(cache, monkeypatch):
    monkeypatch.setattr(onnx_image, "MIN_MEAN", 1.01)  # no tower can agree this well
    encoder = OpenClipEncoder.tiny(precision="auto")
    assert encoder.image_precision != "onnx-int8"
    assert onnx_image.cached(encoder.name)[1].used is False


def test_torch_tower_wherever_it_cannot_be_made(cache, monkeypatch, caplog):
    monkeypatch.setenv(onnx_image.ENV, "0")
    assert OpenClipEncoder.tiny(precision="auto").image_precision != "onnx-int8"
    assert not list(cache.rglob("*.onnx"))
    monkeypatch.delenv(onnx_image.ENV)

    def fails(visual, image_size, target):
        target.write_bytes(b"half a model")
        raise RuntimeError("operator not supported")

    monkeypatch.setattr(onnx_image, "_export_int8", fails)
    with caplog.at_level("WARNING", logger="indexer.models"):
        assert OpenClipEncoder.tiny(precision="auto").image_precision != "onnx-int8"
    assert "could not be made (RuntimeError: operator not supported)" in caplog.text
    assert not list(cache.rglob("*.onnx"))
    with pytest.raises(EncoderError, match="onnxruntime image tower cannot be made here"):
        OpenClipEncoder.tiny(precision="onnx-int8")
    monkeypatch.undo()
    monkeypatch.setenv("REELSEARCH_CACHE", str(cache))
    monkeypatch.setitem(sys.modules, "onnx", None)  # no exporter's dependency
    assert OpenClipEncoder.tiny(precision="auto").image_precision != "onnx-int8"


def test_check_images_have_structure_and_repeat():
    images = onnx_image.check_images(4, 32, seed=1)
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    assert all(image.std() > 5 for image in images)  # not flat
    np.testing.assert_array_equal(images, onnx_image.check_images(4, 32, seed=1))


def test_a_batch_runs_in_single_thread_runs_side_by_side(cache):
    """A batch split between runs of one thread each gives the vectors of one run over it (up to
    the dynamic quantisation, whose activation range is the whole batch's); a lone image runs
    alone."""
    encoder = OpenClipEncoder.tiny(precision="onnx-int8")
    path = encoder._model.visual.path
    assert encoder._model.visual.runs >= 1
    pixels = encoder._preprocess(onnx_image.check_images(5, encoder.image_size, seed=5))
    side_by_side, alone = onnx_image.OnnxTower(path, 2), onnx_image.OnnxTower(path, 1)
    split, whole = side_by_side(pixels).numpy(), alone(pixels).numpy()  # 3 + 2 images, against 5 in one run
    assert split.shape == whole.shape == (5, encoder.dim)
    split, whole = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (split, whole))
    assert (split * whole).sum(axis=1).min() > 0.999
    singles = np.concatenate([alone(pixels[i : i + 1]).numpy() for i in range(5)])
    singles /= np.linalg.norm(singles, axis=1, keepdims=True)
    assert (np.argmax(split @ singles.T, axis=1) == np.arange(5)).all()  # each row is its own image's, in order
    np.testing.assert_array_equal(side_by_side(pixels[1:2]).numpy(), alone(pixels[1:2]).numpy())  # one image: one run


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_runs_the_tower_side_by_side_too(cache):
    """A child forked after the tower has run inherits its pool but not the pool's threads: the
    tower starts new ones there instead of waiting forever."""
    encoder = OpenClipEncoder.tiny(precision="onnx-int8")
    side_by_side = onnx_image.OnnxTower(encoder._model.visual.path, 2)
    pixels = encoder._preprocess(onnx_image.check_images(4, encoder.image_size, seed=7))
    expected = side_by_side(pixels).numpy()  # the pool's threads start in this process
    out = cache / "child.npy"
    pid = os.fork()
    if pid == 0:  # the child: run the tower, keep its vectors, leave at once
        try:
            np.save(out, side_by_side(pixels).numpy())
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the tower never answered in the forked child")
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
