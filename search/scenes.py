"""Group the frames of one video that match a query into scenes.

Input: the video's stored frames (times, query scores, and a hit mask from :mod:`search.cutoff`),
its shot cuts, its duration and its sampling interval ``every``. The indexer samples a frame
every ``every`` seconds but stores only those whose content changed (plus the first of each
shot and one every few seconds, see indexer/change_gate.py), so a stored frame stands for the
sampled frames after it that looked the same.

1. Hit frames are taken in time order. Consecutive hits always join one scene. Hits separated
   by non-hit frames join when the stretch the non-hits cover (from the first non-hit to the
   next hit) is at most ``max_gap`` seconds (the engine uses two sampling intervals) and no
   *non-hit shot* lies between them: a shot with stored frames, none of which is a hit. So a
   scene is the union of the matching shots around it; a shot that does not match splits it.
2. A boundary lies between the last stored frame ``P`` on one side and the first one ``N`` on
   the other. When a shot cut lies in ``(P, N]`` the boundary is that cut: exact, a scene that
   starts at a cut starts on the cut frame. A gradual transition (fade, dissolve) reaching into
   ``(P, N]`` counts as well, at its middle (never past ``P`` or ``N`` themselves). Otherwise the frames sampled between ``P`` and ``N``
   looked like ``P`` (or were all stored), so the change happened within the last sampling
   interval before ``N``: the boundary is ``max(midpoint(P, N), N - every / 2)``, uncertain by
   about half a sampling interval. A scene that reaches the first or last stored frame extends
   to the start or end of the video.
3. A scene's score is its best hit's score and ``best_time`` that frame's time; a video scores
   as its best scene.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from indexer.labels.segments import shot_bounds

log = logging.getLogger(__name__)

_TIME_EPS = 1e-6  # seconds


@dataclass(frozen=True)
class Scene:
    """A span of one video that matches the query (seconds from the video's start)."""

    start: float
    end: float
    best_time: float  # time of the best-scoring frame in the scene
    score: float  # that frame's cosine similarity to the query
    labels: tuple[str, ...] = ()  # taxonomy labels of active segments overlapping the scene
    hits: int = 1  # number of sampled frames in the scene that matched
    words: tuple = ()  # search.words.WordHit: the on-screen lines / spoken words that matched here

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
        if idx > prev + 1:  # non-hit frames between: bridge a short stretch within matching shots
            missed = times[idx] - times[prev + 1]
            if missed > max_gap or not shot_hit[shot[prev + 1:idx]].all():
                runs.append((first, prev))
                first = idx
        prev = idx
    runs.append((first, prev))
    return runs


def _boundary(times: np.ndarray, bounds: np.ndarray, before: int, every: float) -> float:
    """Where the content changes between stored frames ``before`` and ``before + 1``."""
    p, n = float(times[before]), float(times[before + 1])
    near = bounds[(bounds[:, 1] > p) & (bounds[:, 0] <= n)]
    if near.size:  # a cut or transition in (p, n]: the change is at the first of them
        return min(max(float(near[0].mean()), p), n)
    return max((p + n) / 2, n - every / 2)


def group_scenes(times: np.ndarray, scores: np.ndarray, hits: np.ndarray,
                 cuts: Sequence[float | tuple[float, float]],
                 duration: float, *, every: float, max_gap: float) -> list[Scene]:
    """Scenes of one video from all its stored frames (rules in the module docstring).

    Args:
        times: (N,) stored frame times in seconds (any order; sorted here).
        scores: (N,) similarity of each frame to the query.
        hits: (N,) bool, which frames match (see search.cutoff).
        cuts: shot boundaries: cut times (the first frame of each new shot) or the (first, last)
            frame times of gradual transitions.
        duration: the video's duration in seconds.
        every: the sampling interval the video was indexed with (seconds).
        max_gap: longest stretch of non-matching frames a scene bridges (seconds).

    Returns:
        Scenes in time order (empty when nothing hits).

    Raises:
        ValueError: arrays of different lengths or a negative ``max_gap``.
    """
    times, scores = np.asarray(times, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    hits = np.asarray(hits, dtype=bool)
    if not times.shape == scores.shape == hits.shape or times.ndim != 1:
        raise ValueError("times, scores and hits must be 1-d arrays of the same length")
    if max_gap < 0 or not every > 0:
        raise ValueError(f"need max_gap >= 0 and every > 0, got {max_gap} and {every}")
    if not hits.any():
        return []
    order = np.argsort(times, kind="stable")
    times, scores, hits = times[order], scores[order], hits[order]
    bounds = shot_bounds(cuts)
    shot = np.searchsorted(bounds.mean(axis=1), times, side="right")
    scenes = []
    for first, last in _runs(times, hits, shot, max_gap):
        span = np.arange(first, last + 1)[hits[first:last + 1]]
        best = int(span[np.argmax(scores[span])])
        start = 0.0 if first == 0 else _boundary(times, bounds, first - 1, every)
        end = max(duration, float(times[last])) if last == len(times) - 1 else \
            _boundary(times, bounds, last, every)
        scenes.append(Scene(start=start, end=end, best_time=float(times[best]),
                            score=float(scores[best]), hits=len(span)))
    return scenes


def attach_labels(scene: Scene, segments: Sequence[tuple[str, float, float]]) -> Scene:
    """``scene`` with the labels of the (label, start, end) segments overlapping it, most overlap first.

    A segment spans [start, end): one that ends at a cut is not on screen at the cut, so it does
    not label a scene whose best frame is the first of the next shot."""
    overlap: dict[str, float] = {}
    for label, start, end in segments:
        shared = min(end, scene.end) - max(start, scene.start)
        touches = start <= scene.best_time < end
        if shared > 0 or touches:
            overlap[label] = max(overlap.get(label, 0.0), shared)
    labels = tuple(sorted(overlap, key=lambda lab: (-overlap[lab], lab)))
    return dataclasses.replace(scene, labels=labels)


def shot_around(bounds: Sequence[tuple[float, float]], time: float) -> tuple[int, float, float]:
    """The shot ``time`` falls in, as (its number, its start, its end); ``bounds`` are a video's
    (first, last) shot boundaries, sorted (a cut is (t, t)). A shot starts where a cut is or a
    transition has ended (0.0 for the first) and ends where the next boundary starts (inf for
    the last); a time inside a transition belongs to the shot on its side of the middle."""
    number = bisect.bisect_right([(first + last) / 2 for first, last in bounds], time)
    start = bounds[number - 1][1] if number else 0.0
    end = bounds[number][0] if number < len(bounds) else math.inf
    return number, start, end


def standing_frame(times: np.ndarray, bounds: Sequence[tuple[float, float]], time: float) -> int:
    """Index of the stored frame that stands for ``time`` (``times`` sorted, from 0; ``bounds``
    as for :func:`shot_around`).

    Indexing stores a shot's first frame and then a frame only where the picture has changed,
    so the picture at ``time`` is the latest stored frame at or before it in the same shot; the
    shot's first stored frame when ``time`` comes before that (inside a fade, say); the nearest
    frame in time only when the shot has no stored frame at all. Never a frame of another shot
    that happens to be nearer in time.
    """
    if not len(times):
        raise ValueError("no stored frames")
    time += _TIME_EPS  # a time rounded to the microsecond (a player's) still reaches its frame
    _, start, end = shot_around(bounds, time)
    first, stop = np.searchsorted(times, start, side="left"), np.searchsorted(times, end, side="left")
    if stop > first:
        at_or_before = int(np.searchsorted(times, time, side="right")) - 1
        return int(min(max(at_or_before, first), stop - 1))
    return int(np.argmin(np.abs(np.asarray(times) - time)))


def video_score(scenes: Sequence[Scene]) -> float:
    """A video's score: its best scene's score (raises ValueError when there are no scenes)."""
    if not scenes:
        raise ValueError("a video without scenes has no score")
    return max(s.score for s in scenes)
