"""benchmarks.synthetic_video: the benchmark clip's returned cuts are its only discontinuities.

The indexing benchmark's figures (encodes per video-second, the change gate) are only honest if
the clip's camera pans are continuous: a pan that jumps is a jump cut the detector rightly
finds, and the clip would then hold more shots than it claims.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_video import make_ad_clip  # noqa: E402
from indexer.media.frames import FrameScanner  # noqa: E402
from indexer.media.probe import probe  # noqa: E402
from indexer.types import ShotCut  # noqa: E402


@pytest.mark.parametrize("seed", [7, 11])
def test_detected_cuts_are_exactly_the_returned_cuts(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "ad.mp4"
    truth = make_ad_clip(path, seconds=16.0, size=(320, 180), seed=seed)
    assert len(truth) >= 4  # shots of 1.5-4 s
    found = [item.time for item in FrameScanner(path, every=1.0) if isinstance(item, ShotCut)]
    frame = 1 / 25
    assert len(found) == len(truth)
    assert all(abs(f - t) < frame / 2 for f, t in zip(found, truth))  # the exact first frame


def test_clip_has_the_asked_length_and_rate(tmp_path: Path) -> None:
    path = tmp_path / "ad.mp4"
    make_ad_clip(path, seconds=6.0, size=(320, 180))
    info = probe(path)
    assert (info.width, info.height) == (320, 180)
    assert info.fps == Fraction(25)
    assert info.duration == pytest.approx(6.0, abs=0.05)
