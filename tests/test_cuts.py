"""Tests for indexer.media.cuts: the per-frame signature and the adaptive hard-cut rule."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from indexer.media.cuts import CutDetector
from indexer.media.signature import SignatureGrid
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
    events = []
    for i, frame in enumerate(frames):
        events += detector.feed(frame, float(i / FPS), i * 3003)
    events += detector.flush()
    return [(e.pts // 3003, e) for e in events if isinstance(e, ShotCut)]


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


def test_adaptive_threshold_ignores_busy_footage_but_finds_the_cut() -> None:
    # Busy footage: Y, U and V wander by 12..21 levels a frame each (scores ~16, above the floor 8).
    rng = np.random.default_rng(3)
    walk = 128 + np.cumsum(rng.integers(12, 22, size=(90, 3)) * rng.choice([-1, 1], size=(90, 3)), axis=0)
    busy = [yuv_frame(*map(int, p)) for p in 60 + np.abs((walk - 60) % 240 - 120)]
    cut_to = [yuv_frame(240, 30, 230)] * 20
    assert len(feed_all(CutDetector(threshold=8, ratio=1, spread=0), busy)) > 5  # floor alone fails
    cuts = feed_all(CutDetector(threshold=8), busy + cut_to)
    assert [i for i, _ in cuts] == [90]


def test_flicker_is_no_cut() -> None:
    # Every other frame 45 levels brighter: a run of one-frame flashes, never a new shot.
    flicker = [yuv_frame(100 + 45 * (i % 2), 128, 128) for i in range(60)]
    steady = [yuv_frame(100, 128, 128)] * 10
    assert feed_all(CutDetector(threshold=12, ratio=1, spread=0), flicker + steady) == []


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
    assert detector.feed(yuv_frame(220, 60, 200), 5.0, 5) == [] and detector.flush() == []


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0}, {"ratio": 0.5}, {"window": 0}, {"cells": (0, 4)}]
)
def test_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CutDetector(**kwargs)


def boxed_frame(y: int, u: int, v: int, box: str, size: tuple[int, int] = (320, 180)) -> av.VideoFrame:
    """A yuv420p picture of one colour inside black bars: 2.39:1 letterbox or 4:3 pillarbox."""
    width, height = size
    yy = np.full((height, width), 16, np.uint8)
    uu = np.full((height // 2, width // 2), 128, np.uint8)
    vv = uu.copy()
    if box == "letterbox":
        bar = (height - round(width / 2.39)) // 2
        area = (slice(bar, height - bar), slice(None))
    else:
        bar = (width - round(height * 4 / 3)) // 2
        area = (slice(None), slice(bar, width - bar))
    yy[area] = y
    half = tuple(slice(s.start // 2 if s.start else None, s.stop // 2 if s.stop else None) for s in area)
    uu[half], vv[half] = u, v
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, data in zip(frame.planes, (yy, uu, vv)):
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows[:, :data.shape[1]] = data
    return frame


@pytest.mark.parametrize("box", ["letterbox", "pillarbox"])
def test_black_bars_do_not_dilute_a_cut(box: str) -> None:
    # inside the picture the cut scores ~9, over the whole frame (bars included) under the floor 8
    frames = [boxed_frame(110, 120, 135, box)] * 20 + [boxed_frame(120, 128, 145, box)] * 20
    detector = CutDetector()
    cuts = feed_all(detector, frames)
    assert [i for i, _ in cuts] == [20]
    assert cuts[0][1].score == pytest.approx(9.0, abs=0.5) and cuts[0][1].margin > 0.5
    top, bottom, left, right = detector.area.bars
    assert (top > 0 and bottom > 0) if box == "letterbox" else (left > 0 and right > 0)
    full = float(np.abs(detector.signature(frames[20]) - detector.signature(frames[0])).mean())
    assert full < 8  # what the score was before the bars were left out


def test_margin_is_the_score_over_the_threshold() -> None:
    frames = [yuv_frame(60, 90, 200)] * 20 + [yuv_frame(160, 100, 120)] * 20
    [(_, cut)] = feed_all(CutDetector(threshold=10), frames)
    assert cut.margin == pytest.approx(cut.score - 10)


@pytest.mark.parametrize("flash", [1, 2, 3])
def test_flash_is_no_cut_but_a_real_cut_after_it_is(flash: int) -> None:
    shot, white, other = yuv_frame(80, 110, 140), yuv_frame(235, 128, 128), yuv_frame(150, 60, 200)
    frames = [shot] * 20 + [white] * flash + [shot] * 20 + [other] * 20
    assert [i for i, _ in feed_all(CutDetector(), frames)] == [40 + flash]


@pytest.mark.parametrize("size", [(160, 120), (320, 180), (720, 480)])
def test_signature_sees_the_whole_frame(size: tuple[int, int]) -> None:
    # sizes that are no multiple of the sample grid: the last rows and columns count too
    width, height = size
    image = np.full((height, width, 3), 100, np.uint8)
    changed = image.copy()
    changed[-height // 8:, :] = 250  # the bottom eighth
    changed[:, -width // 8:] = 250  # and the right eighth
    grid = CutDetector().signature
    a, b = grid(av.VideoFrame.from_ndarray(image, "rgb24").reformat(format="yuv420p")), \
        grid(av.VideoFrame.from_ndarray(changed, "rgb24").reformat(format="yuv420p"))
    assert (np.abs(b[0] - a[0]) > 100).any(axis=1)[-2:].all()  # the bottom cell rows changed
    assert (np.abs(b[0] - a[0]) > 100).any(axis=0)[-3:].all()  # the right cell columns changed


def test_the_ring_holds_each_frame_s_own_signature() -> None:
    # the detector writes each signature straight into its ring slot: the same values as a
    # signature made on its own, across a cut, a change of frame size and of pixel format
    frames = [yuv_frame(60, 120, 130)] * 3 + [yuv_frame(200, 90, 160)] * 3
    frames += [yuv_frame(200, 90, 160, size=(320, 180))] * 2
    frames += [rgb_frame((30, 40, 200)).reformat(format="yuv420p10le")] * 2
    frames += [rgb_frame((30, 200, 40))] * 2
    detector, alone = CutDetector(), SignatureGrid()
    for i, frame in enumerate(frames):
        detector.feed(frame, float(i / FPS), i * 3003)
        assert np.array_equal(detector.last_signature, alone(frame)), i
    out = np.full((3, 18, 32), -1, np.float32)
    assert alone(frames[0], out=out) is out and np.array_equal(out, alone(frames[0]))
