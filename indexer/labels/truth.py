"""Ground truth from curator actions, as frame-level labels over a video's stored frames.

For one video and one category (exact label, children not included):

- a frame inside an *active curator* segment (accepted, added or retimed by a curator) is a
  positive, with the curator's exact bounds;
- a frame inside a *rejected* segment (and no active curator one) is a negative;
- when the video is marked *reviewed* for the category, every other frame is a negative
  (marking a video reviewed accepts the automatic segments left in it, so its segments are
  all curator segments);
- any other frame is unknown and is neither counted by ``eval`` nor trained on by ``learn``.

A frame at time ``t`` is inside a segment when ``start <= t < end``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

_EPS = 1e-6


class SegmentLike(Protocol):
    label: str
    start: float
    end: float
    source: str
    status: str


@dataclass(frozen=True)
class FrameTruth:
    """Which frames are judged (``known``) and, of those, which show the category."""

    known: np.ndarray  # (n,) bool
    positive: np.ndarray  # (n,) bool, False where unknown
    spans: tuple[tuple[float, float], ...]  # the active curator segments (start, end), by start

    def __post_init__(self) -> None:
        if self.known.shape != self.positive.shape or np.any(self.positive & ~self.known):
            raise ValueError("positive frames must be known frames, one flag per frame")

    @property
    def positives(self) -> int:
        return int(self.positive.sum())

    @property
    def negatives(self) -> int:
        return int((self.known & ~self.positive).sum())


def inside(times: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """(n,) bool: which ``times`` lie in any ``[start, end)`` span."""
    t = np.asarray(times, dtype=np.float64)
    hit = np.zeros(t.shape, dtype=bool)
    for start, end in spans:
        hit |= (t >= start - _EPS) & (t < end - _EPS)
    return hit


def frame_truth(times: np.ndarray, label: str, segments: Sequence[SegmentLike], reviewed: bool) -> FrameTruth:
    """Ground truth of ``label`` over frames at ``times`` (see the module docstring)."""
    mine = [s for s in segments if s.label == label]
    spans = tuple(sorted((s.start, s.end) for s in mine if s.source == "curator" and s.status == "active"))
    positive = inside(times, spans)
    if reviewed:
        known = np.ones(positive.shape, dtype=bool)
    else:
        known = positive | inside(times, [(s.start, s.end) for s in mine if s.status == "rejected"])
    return FrameTruth(known, positive, spans)
