"""Tests for indexer.media.cuts: the per-frame signature and the adaptive hard-cut rule."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from indexer.media.cuts import CutDetector
from indexer.types import ShotCut

FPS = Fraction(30000, 1001)


def yuv_frame(y: int, u: int, v: int, size: tuple[int, int] = (150, 100)) -> av.VideoFrame:
    """A solid yuv420p frame with the given plane values (odd width: padded lines)."""
    width, height = size
    data = np.empty((height * 3 // 2, width), dtype=np.uint8)
    data[:height] = y
    chroma = data[height:].reshape(-1)
    quarter = (width // 2) * (height // 2)
    chroma[:quarter] = u
    chroma[quarter : 2 * quarter] = v
    return av.VideoFrame.from_ndarray(data, format="yuv420p")


def rgb_frame(rgb: tuple[int, int, int], size: tuple[int, int] = (150, 100)) -> av.VideoFrame:
    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = rgb
    return av.VideoFrame.from_ndarray(image, format="rgb24")


def feed_all(detector: CutDetector, frames: list[av.VideoFrame]) -> list[tuple[int, ShotCut]]:
    """Feed frames at 29.97 fps; return (index, cut) for every detected cut."""
    cuts = []
    for i, frame in enumerate(frames):
        cut = detector.feed(frame, float(i / FPS), i * 3003)
        if cut is not None:
            cuts.append((i, cut))
    return cuts


def test_signature_respects_line_padding() -> None:
    width, height = 150, 100  # 150 is not a multiple of the 32/64-byte line alignment
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, width // 2 :] = 255
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    assert frame.planes[0].line_size > width
    signature = CutDetector(cells=(4, 8)).signature(frame)
    assert signature.shape == (3, 4, 8)
    luma = signature[0]
    assert luma[:, :3].max() < 30 and luma[:, 5:].min() > 220  # black left, white right
    assert np.allclose(signature[1:], 128, atol=3)  # grey: neutral chroma


def test_cut_reported_at_first_frame_of_new_shot() -> None:
    frames = [yuv_frame(60, 90, 200)] * 20 + [yuv_frame(160, 100, 120)] * 20
    cuts = feed_all(CutDetector(), frames)
    assert [i for i, _ in cuts] == [20]
    cut = cuts[0][1]
    assert cut.pts == 20 * 3003 and cut.time == pytest.approx(float(20 / FPS), abs=1e-12)
    assert cut.score > 12


def test_equal_luma_colour_change_is_a_cut() -> None:
    frames = [yuv_frame(120, 60, 190)] * 15 + [yuv_frame(120, 190, 60)] * 15
    assert [i for i, _ in feed_all(CutDetector(), frames)] == [15]


def test_no_cut_within_a_shot() -> None:
    frames = [yuv_frame(100 + (i % 3), 128, 128) for i in range(60)]
    assert feed_all(CutDetector(), frames) == []


def test_adaptive_threshold_ignores_flicker_but_finds_the_cut() -> None:
    # Busy footage: every frame differs by 45 luma levels (score 15, above the floor 12).
    flicker = [yuv_frame(100 + 45 * (i % 2), 128, 128) for i in range(60)]
    cut_to = [yuv_frame(230, 40, 220)] * 20
    assert len(feed_all(CutDetector(threshold=12, ratio=1), flicker)) > 5  # floor alone fails
    cuts = feed_all(CutDetector(threshold=12, ratio=3), flicker + cut_to)
    assert [i for i, _ in cuts] == [60]


def test_min_shot_length_suppresses_close_cuts() -> None:
    colours = [yuv_frame(40, 128, 128), yuv_frame(220, 128, 128), yuv_frame(40, 200, 60)]
    frames = [colours[0]] * 10 + [colours[1]] * 3 + [colours[2]] * 10  # 3-frame shot = 0.1 s
    assert [i for i, _ in feed_all(CutDetector(min_shot=0.2), frames)] == [10]
    assert [i for i, _ in feed_all(CutDetector(min_shot=0.0), frames)] == [10, 13]


@pytest.mark.parametrize("fmt", ["rgb24", "nv12", "yuv420p10le", "yuv444p", "gray"])
def test_other_pixel_formats(fmt: str) -> None:
    frames = [rgb_frame((200, 30, 30)).reformat(format=fmt)] * 10
    frames += [rgb_frame((30, 40, 200)).reformat(format=fmt)] * 10
    if fmt == "gray":  # luma only: pick colours of different brightness
        frames[10:] = [rgb_frame((250, 250, 250)).reformat(format=fmt)] * 10
    assert [i for i, _ in feed_all(CutDetector(), frames)] == [10]


def test_high_bit_depth_signature_is_on_8_bit_scale() -> None:
    frame = rgb_frame((200, 30, 30))
    detector = CutDetector(cells=(2, 2))
    eight = detector.signature(frame.reformat(format="yuv420p"))
    ten = detector.signature(frame.reformat(format="yuv420p10le"))
    assert np.allclose(eight, ten, atol=2)


def test_reset_forgets_previous_frame() -> None:
    detector = CutDetector()
    feed_all(detector, [yuv_frame(30, 128, 128)] * 10)
    detector.reset()
    assert detector.feed(yuv_frame(220, 60, 200), 5.0, 5) is None


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0}, {"ratio": 0.5}, {"window": 0}, {"cells": (0, 4)}]
)
def test_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CutDetector(**kwargs)
