"""Tests for indexer.transitions (and the scanner around it): fades, dissolves, flashes and
black bars on generated clips with known truth, at 25 and 29.97 fps and with a variable rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmarks.synthetic_edits import EditedClip, make_edited_clip
from indexer.media.frames import FrameScanner
from indexer.types import SampledFrame, ShotCut, Transition

#: Every kind of edit: dissolves of 10 and 30 frames, fades out of and into black and white of
#: 15..25 frames through a short hold, flashes of 1, 2 and 3 white frames, a low-contrast cut.
PLAN = [
    ("shot", 40), ("dissolve", 10), ("shot", 40), ("dissolve", 30), ("shot", 30),
    ("fade_out", 15), ("hold", 10), ("fade_in", 20), ("more", 30), ("flash", 2), ("more", 30),
    ("shot", 40, {"contrast": 0.4, "similar": True}), ("shot", 40, {"contrast": 0.4, "similar": True}),
    ("fade_out", 25, {"colour": "white"}), ("hold", 8, {"colour": "white"}),
    ("fade_in", 12, {"colour": "white"}), ("more", 30), ("flash", 1), ("more", 20), ("flash", 3),
    ("more", 30), ("shot", 30), ("fade_out", 20),
]
PLAN_FRAMES = 603


def vfr_durations(count: int) -> list[Fraction]:
    """Frame durations that wander between 1/50 and 1/20 s (a phone's variable rate)."""
    rng = np.random.default_rng(5)
    return [Fraction(int(d), 1000) for d in rng.choice([20, 33, 40, 50], size=count)]


def scan_clip(clip: EditedClip) -> tuple[list[ShotCut], list[Transition], list[SampledFrame]]:
    items = list(FrameScanner(clip.path))
    return ([i for i in items if isinstance(i, ShotCut)], [i for i in items if isinstance(i, Transition)],
            [i for i in items if isinstance(i, SampledFrame)])


def frame_number(clip: EditedClip, time: float) -> int:
    return int(np.argmin(np.abs(np.asarray(clip.frame_times) - time)))


def assert_found_everything(clip: EditedClip) -> None:
    cuts, transitions, _ = scan_clip(clip)
    truth_cuts = [e.first for e in clip.edits if e.kind == "cut"]
    assert [frame_number(clip, c.time) for c in cuts] == truth_cuts  # exact, and no flash among them
    assert all(c.time == clip.frame_times[frame_number(clip, c.time)] for c in cuts)
    gradual = [e for e in clip.edits if e.kind in ("dissolve", "fade_out", "fade_in")]
    found = [(t.kind, t.colour, frame_number(clip, t.start), frame_number(clip, t.end)) for t in transitions]
    assert len(found) == len(gradual), found
    for edit, (kind, colour, first, last) in zip(gradual, found):
        assert (kind, colour) == (edit.kind, edit.colour), (edit, found)
        assert abs(first - edit.first) <= 2 and abs(last - edit.last) <= 2, (edit, first, last)


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)])
def test_every_edit_is_found_at_a_constant_rate(tmp_path: Path, fps: Fraction) -> None:
    assert_found_everything(make_edited_clip(tmp_path / "edits.mp4", PLAN, fps=fps))


def test_every_edit_is_found_at_a_variable_rate(tmp_path: Path) -> None:
    clip = make_edited_clip(tmp_path / "vfr.mp4", PLAN, frame_durations=vfr_durations(PLAN_FRAMES), seed=2)
    assert len(set(np.round(np.diff(clip.frame_times), 4))) > 2
    assert_found_everything(clip)


@pytest.mark.parametrize("box", ["letterbox", "pillarbox"])
def test_every_edit_is_found_inside_black_bars(tmp_path: Path, box: str) -> None:
    clip = make_edited_clip(tmp_path / f"{box}.mp4", PLAN, fps=Fraction(25), box=box, seed=3)
    assert max(clip.bars) >= 20
    assert_found_everything(clip)


def test_no_sample_starts_a_shot_inside_a_transition(tmp_path: Path) -> None:
    clip = make_edited_clip(tmp_path / "edits.mp4", PLAN[:8], fps=Fraction(25))
    _, transitions, frames = scan_clip(clip)
    starts = [f.time for f in frames if f.shot_start]
    assert len(transitions) == 4
    # one shot start after each transition (the fade out and the fade in through black are
    # found together, after both: one start after the pair)
    assert len(starts) == 3 and all(any(tr.end < t for t in starts) for tr in transitions)
    for t in starts:
        assert not any(tr.start <= t <= tr.end for tr in transitions)


def test_a_steady_pan_is_no_transition(tmp_path: Path) -> None:
    plan = [("shot", 60, {"pan": 2}), ("shot", 60, {"pan": 3}), ("shot", 60, {"pan": 1})]
    clip = make_edited_clip(tmp_path / "pans.mp4", plan, fps=Fraction(25))
    cuts, transitions, _ = scan_clip(clip)
    assert transitions == []
    assert [frame_number(clip, c.time) for c in cuts] == [60, 120]
