"""Tests for indexer.change_gate: which sampled frames get an encode."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.change_gate import ChangeGate, colour_histogram
from indexer.types import SampledFrame


def frame(t: float, colour=(200, 30, 30), shot_start: bool = False, patch: int = 0) -> SampledFrame:
    img = np.empty((32, 32, 3), np.uint8)
    img[:] = colour
    if patch:
        img[:patch, :patch] = (20, 20, 220)
    return SampledFrame(time=t, pts=int(t * 1000), image=img, shot_start=shot_start)


def test_histogram_sums_to_one_and_separates_colours() -> None:
    red, blue = colour_histogram(frame(0).image), colour_histogram(frame(0, (20, 20, 220)).image)
    assert red.sum() == pytest.approx(1.0) and 0.5 * np.abs(red - blue).sum() == pytest.approx(1.0)


def test_first_frame_and_shot_starts_always_pass() -> None:
    gate = ChangeGate()
    assert gate.admit(frame(0.0))
    assert not gate.admit(frame(0.5))
    assert gate.admit(frame(1.0, shot_start=True))
    gate.new_shot()
    assert gate.admit(frame(1.5))


def test_static_content_is_re_encoded_after_the_window() -> None:
    gate = ChangeGate(window=2.0)
    admitted = [t for t in np.arange(0, 6, 0.5) if gate.admit(frame(float(t)))]
    assert admitted == [0.0, 2.0, 4.0]


def test_a_change_in_content_passes_a_small_one_does_not() -> None:
    gate = ChangeGate(threshold=0.15)
    assert gate.admit(frame(0.0))
    assert not gate.admit(frame(0.5, patch=8))  # 6% of the pixels changed colour
    assert gate.admit(frame(1.0, patch=16))  # 25% changed
    assert not gate.admit(frame(1.5, patch=16))  # same as the new reference


def test_window_zero_admits_everything_and_bad_settings_raise() -> None:
    gate = ChangeGate(window=0)
    assert all(gate.admit(frame(t)) for t in (0.0, 0.5, 1.0))
    with pytest.raises(ValueError):
        ChangeGate(threshold=1.5)
