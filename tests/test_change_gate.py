"""Tests for indexer.media.change_gate: which sampled frames get an encode."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.media.change_gate import ChangeGate, explained_by_pan, plane_histograms


def signature(yuv=(80, 90, 240), patch: int = 0, shift: int = 0) -> np.ndarray:
    """A (3, 18, 32) Y/U/V cell-mean signature like indexer.media.cuts makes; ``patch`` cells of the
    top-left corner (patch x patch) take another colour; ``shift`` pans the picture."""
    sig = np.empty((3, 18, 32), np.float32)
    sig[:] = np.array(yuv, np.float32)[:, None, None]
    sig[0] += np.linspace(0, 60, 32)[None, :]  # a horizontal gradient, so pans move cells
    if patch:
        sig[:, :patch, :patch] = np.array((200, 20, 20), np.float32)[:, None, None]
    return np.roll(sig, shift, axis=2)


def test_histograms_sum_to_one_per_plane() -> None:
    hist = plane_histograms(signature())
    assert hist.shape == (3, 16) and np.allclose(hist.sum(axis=1), 1.0)


def test_first_frame_and_shot_starts_always_pass() -> None:
    gate = ChangeGate()
    assert gate.admit(0.0, signature())
    assert not gate.admit(0.5, signature())
    assert gate.admit(1.0, signature(), shot_start=True)
    gate.new_shot()
    assert gate.admit(1.5, signature())


def test_static_content_is_re_encoded_after_the_window() -> None:
    gate = ChangeGate(window=2.0)
    admitted = [t for t in np.arange(0, 6, 0.5) if gate.admit(float(t), signature())]
    assert admitted == [0.0, 2.0, 4.0]


def test_a_pan_is_not_a_change_a_new_object_is() -> None:
    gate = ChangeGate(threshold=0.2)
    assert gate.admit(0.0, signature())
    assert not gate.admit(0.5, signature(shift=3))  # camera pan: same colours
    assert not gate.admit(1.0, signature(patch=4))  # 3% of the picture
    assert gate.admit(1.5, signature(patch=12))  # a quarter of the picture changed colour
    assert not gate.admit(2.0, signature(patch=12))  # same as the new reference


def textured(shift: int = 0) -> np.ndarray:
    """A signature with a grey texture (cells of 60..200) and flat chroma, panned by ``shift`` columns."""
    sig = np.empty((3, 18, 32), np.float32)
    sig[0] = np.random.default_rng(3).uniform(60, 200, (18, 32))
    sig[1], sig[2] = 110.0, 140.0
    return np.roll(sig, shift, axis=2)


def test_a_pan_that_brings_in_new_layout_is_a_change() -> None:
    """Same colours (histograms barely move), but a quarter of the picture panned in, or rearranged."""
    gate = ChangeGate(threshold=0.2)
    assert gate.admit(0.0, textured())
    assert not gate.admit(0.5, textured(shift=3))  # 9% of the picture is new
    assert gate.admit(1.0, textured(shift=8))  # 25%: what the camera shows now is another picture
    mirrored = textured(shift=8)[:, :, ::-1].copy()  # the same cells, another layout
    assert gate.admit(1.5, mirrored)


def test_small_pans_explain_a_frame_large_ones_do_not() -> None:
    grey = signature()[0]
    assert explained_by_pan(grey, grey, 0.2, 0.0)
    assert explained_by_pan(np.roll(grey, 2, axis=1), grey, 0.2, 0.0)  # 6% brought in
    assert not explained_by_pan(np.roll(grey, 2, axis=1), grey, 0.05, 0.0)
    assert not explained_by_pan(grey[:, ::-1].copy(), grey, 0.2, 16.0)


def test_window_zero_admits_everything_and_bad_settings_raise() -> None:
    gate = ChangeGate(window=0)
    assert all(gate.admit(t, signature()) for t in (0.0, 0.5, 1.0))
    with pytest.raises(ValueError):
        ChangeGate(threshold=1.5)


def test_the_reference_frame_is_kept_even_when_its_signature_array_is_reused() -> None:
    # the scanner hands the gate a view of the cut detector's ring, whose slot is later
    # overwritten by another frame: the gate must still compare with the frame it admitted
    gate = ChangeGate()
    slot = signature()
    assert gate.admit(0.0, slot)
    slot[:] = signature(yuv=(220, 60, 200))[:, :, ::-1]  # the ring slot now holds another frame
    assert not gate.admit(0.5, signature())  # the admitted frame again: nothing new
