"""Posters: one representative frame per video, never a black or near-uniform one.

Many videos open on black or on a plain title card, so the first second makes a poor poster.
The poster is the stored frame whose embedding is nearest the video's mean embedding (the
frame that looks most like the video as a whole), skipping frames whose pixels are nearly all
alike: of the :data:`CANDIDATES` most representative frames, the first that is neither black
nor near-uniform wins; if all are, a non-black one, else the most representative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image

#: How many of the most representative frames are looked at.
CANDIDATES = 12
#: A frame is near-uniform when 90 % of its pixels' luminance lies within this many levels.
UNIFORM_SPREAD = 24
#: ... and black when, in addition, its median luminance is below this.
BLACK_LEVEL = 28


@dataclass(frozen=True)
class Look:
    """What a frame's pixels look like: spread of luminance (P95 - P5) and median luminance."""

    spread: float
    median: float

    @property
    def uniform(self) -> bool:
        return self.spread < UNIFORM_SPREAD

    @property
    def black(self) -> bool:
        return self.uniform and self.median < BLACK_LEVEL


def look_of(image: Image.Image) -> Look:
    """Luminance spread and median of an image (any mode)."""
    luma = np.asarray(image.convert("L"), dtype=np.float32)
    p5, median, p95 = np.percentile(luma, [5, 50, 95])
    return Look(spread=float(p95 - p5), median=float(median))


def representative_order(vectors: np.ndarray) -> list[int]:
    """Frame indices, nearest the mean embedding first. Raises ValueError for no frames."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or not len(v):
        raise ValueError("need at least one frame vector (an (n, dim) array)")
    mean = v.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return list(range(len(v)))
    scores = v @ (mean / norm)
    return sorted(range(len(v)), key=lambda i: (-float(scores[i]), i))


def choose_poster(times: Sequence[float], vectors: np.ndarray, look: Callable[[float], Look],
                  candidates: int = CANDIDATES, avoid: Sequence[tuple[float, float]] = ()) -> float:
    """The poster time among stored frames ``times`` (with their ``vectors``); ``look(t)``
    tells what the frame at ``t`` looks like. A frame inside one of the ``avoid`` spans (fades
    and dissolves, first to last frame: blends of two shots) is taken only when all are.
    Raises ValueError when there is no frame."""
    if len(times) != len(vectors):
        raise ValueError(f"need one vector per frame time, got {len(times)} and {len(vectors)}")
    order = representative_order(vectors)
    clean = [i for i in order if not any(a <= times[i] <= b for a, b in avoid if b > a)]
    order = (clean or order)[:candidates]
    looks = {}
    for i in order:
        looks[i] = look(float(times[i]))
        if not looks[i].uniform:
            return float(times[i])
    best = min(order, key=lambda i: (looks[i].black, order.index(i)))
    return float(times[best])
