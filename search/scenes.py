"""Group the frames of one video that match a query into scenes.

Input: every sampled frame of the video (times, query scores, and a hit mask from
:mod:`search.cutoff`), the stored shot cuts and the video duration.

1. Hit frames are taken in time order. Two consecutive hits join the same scene when they are at
   most ``max_gap`` seconds apart (the engine uses twice the sampling interval) and no *non-hit
   shot* lies between them: a shot that has sampled frames, none of which is a hit. Hits in
   neighbouring shots merge (a scene is the union of the shots that match); a shot that does not
   match splits them.
2. Each boundary lies between the last sampled frame outside the scene and the first one inside
   it. When a shot cut lies in that interval the boundary is the cut (exact: a scene starting at
   a cut starts on the cut frame); otherwise it is the midpoint (uncertain by +/- half the
   sampling interval). A scene that reaches the first or last sampled frame extends to the start
   or end of the video.
3. A scene's score is its best hit's score and ``best_time`` that frame's time; a video scores
   as its best scene.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scene:
    """A span of one video that matches the query (seconds from the video's start)."""

    start: float
    end: float
    best_time: float  # time of the best-scoring frame in the scene
    score: float  # that frame's cosine similarity to the query
    labels: tuple[str, ...] = ()  # taxonomy labels of active segments overlapping the scene
    hits: int = 1  # number of sampled frames in the scene that matched

    def __post_init__(self) -> None:
        for name in ("start", "end", "best_time", "score"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"scene {name} must be finite, got {getattr(self, name)!r}")
        if not 0 <= self.start <= self.best_time <= self.end:
            raise ValueError(f"scene needs 0 <= start <= best_time <= end, got "
                             f"{self.start}, {self.best_time}, {self.end}")
        if self.hits < 1:
            raise ValueError("a scene has at least one matching frame")

    @property
    def duration(self) -> float:
        return self.end - self.start


def _runs(times: np.ndarray, hits: np.ndarray, shot: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Index ranges [first hit, last hit] of the hit runs (rule 1 of the module docstring)."""
    shot_hit = np.zeros(int(shot.max()) + 1, dtype=bool)
    shot_hit[shot[hits]] = True
    hit_idx = np.flatnonzero(hits)
    runs: list[tuple[int, int]] = []
    first = prev = int(hit_idx[0])
    for idx in hit_idx[1:]:
        idx = int(idx)
        between = shot[prev + 1:idx]
        if times[idx] - times[prev] > max_gap or not shot_hit[between].all():
            runs.append((first, prev))
            first = idx
        prev = idx
    runs.append((first, prev))
    return runs


def _start(times: np.ndarray, cuts: np.ndarray, first: int) -> float:
    if first == 0:
        return 0.0
    before, inside = float(times[first - 1]), float(times[first])
    lo, hi = np.searchsorted(cuts, before, side="right"), np.searchsorted(cuts, inside, side="right")
    return float(cuts[hi - 1]) if hi > lo else (before + inside) / 2


def _end(times: np.ndarray, cuts: np.ndarray, last: int, duration: float) -> float:
    if last == len(times) - 1:
        return max(duration, float(times[last]))
    inside, after = float(times[last]), float(times[last + 1])
    lo, hi = np.searchsorted(cuts, inside, side="right"), np.searchsorted(cuts, after, side="right")
    return float(cuts[lo]) if hi > lo else (inside + after) / 2


def group_scenes(times: np.ndarray, scores: np.ndarray, hits: np.ndarray, cuts: Sequence[float],
                 duration: float, *, max_gap: float) -> list[Scene]:
    """Scenes of one video from all its sampled frames (rules in the module docstring).

    Args:
        times: (N,) sampled frame times in seconds (any order; sorted here).
        scores: (N,) similarity of each frame to the query.
        hits: (N,) bool, which frames match (see search.cutoff).
        cuts: shot cut times (the first frame of each new shot).
        duration: the video's duration in seconds.
        max_gap: longest time between two hits of one scene.

    Returns:
        Scenes in time order (empty when nothing hits).

    Raises:
        ValueError: arrays of different lengths or a negative ``max_gap``.
    """
    times, scores = np.asarray(times, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    hits = np.asarray(hits, dtype=bool)
    if not times.shape == scores.shape == hits.shape or times.ndim != 1:
        raise ValueError("times, scores and hits must be 1-d arrays of the same length")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    if not hits.any():
        return []
    order = np.argsort(times, kind="stable")
    times, scores, hits = times[order], scores[order], hits[order]
    cut_arr = np.sort(np.asarray(cuts, dtype=np.float64))
    shot = np.searchsorted(cut_arr, times, side="right")
    scenes = []
    for first, last in _runs(times, hits, shot, max_gap):
        span = np.arange(first, last + 1)[hits[first:last + 1]]
        best = int(span[np.argmax(scores[span])])
        start, end = _start(times, cut_arr, first), _end(times, cut_arr, last, duration)
        scenes.append(Scene(start=start, end=end, best_time=float(times[best]),
                            score=float(scores[best]), hits=len(span)))
    return scenes


def attach_labels(scene: Scene, segments: Sequence[tuple[str, float, float]]) -> Scene:
    """``scene`` with the labels of the (label, start, end) segments overlapping it, most overlap first."""
    overlap: dict[str, float] = {}
    for label, start, end in segments:
        shared = min(end, scene.end) - max(start, scene.start)
        touches = start <= scene.best_time <= end
        if shared > 0 or touches:
            overlap[label] = max(overlap.get(label, 0.0), shared)
    labels = tuple(sorted(overlap, key=lambda lab: (-overlap[lab], lab)))
    return Scene(scene.start, scene.end, scene.best_time, scene.score, labels, scene.hits)


def video_score(scenes: Sequence[Scene]) -> float:
    """A video's score: its best scene's score (raises ValueError when there are no scenes)."""
    if not scenes:
        raise ValueError("a video without scenes has no score")
    return max(s.score for s in scenes)
