"""Decide which sampled frames are worth an encode: spend the encoder where content changes.

The encoder is the main cost of indexing on a CPU. Frames are sampled every ``every`` seconds,
but a sampled frame whose colour distribution is still that of the last *encoded* frame of the
same shot adds little the encoder has not already seen. The gate lets a frame through when:

- it is the first sampled frame of a shot (so every shot gets at least one encode), or
- its Y/U/V histograms moved by more than ``threshold`` (total variation distance, 0..1,
  averaged over the three planes) from the last encoded frame -- histograms ignore camera
  pans but see new colours and objects of some size, or
- its layout moved: no pan bringing in less than ``new_share`` of the picture turns the last
  encoded frame's grey (Y) cells into this frame's, up to a mean difference of ``residual``
  (0..255) where they overlap -- a pan from a man in a suit to taxi roofs keeps the colours
  but not the layout, or
- ``window`` seconds have passed since the last encode (slow drift is still seen).

The gate works on the cut detector's per-frame signature (Y/U/V cell means, already computed
for every decoded frame), so a frame it turns away is never even resized. Only frames that pass
are embedded and stored, so the uncertainty of a label boundary that is not at a cut is
honestly half the gap between the encoded frames around it. ``window`` 0 admits every
sampled frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BINS = 16  # histogram bins per plane over 0..255
MAX_SHIFT = (4, 8)  # grey cells a pan is searched over (rows, columns): a quarter of an 18 x 32 grid


def explained_by_pan(grey: np.ndarray, reference: np.ndarray, new_share: float, residual: float) -> bool:
    """True when the (rows, cols) grey cell grid ``grey`` is ``reference`` moved by a pan that brings
    in less than ``new_share`` of the picture (within :data:`MAX_SHIFT`), up to a mean grey
    difference of ``residual`` (0..255) where the two overlap."""
    rows, cols = grey.shape
    for new, dy, dx in _shifts(rows, cols):
        if new >= new_share:
            return False
        moved = grey[max(dy, 0):rows + min(dy, 0), max(dx, 0):cols + min(dx, 0)]
        still = reference[max(-dy, 0):rows + min(-dy, 0), max(-dx, 0):cols + min(-dx, 0)]
        difference = moved - still
        if float(np.abs(difference, out=difference).sum()) <= residual * difference.size:
            return True
    return False


@lru_cache(maxsize=4)
def _shifts(rows: int, cols: int) -> tuple[tuple[float, int, int], ...]:
    """Every (share of the picture brought in, dy, dx) within MAX_SHIFT, smallest share first."""
    shifts = [(1.0 - (rows - abs(dy)) * (cols - abs(dx)) / (rows * cols), dy, dx)
              for dy in range(-MAX_SHIFT[0], MAX_SHIFT[0] + 1) for dx in range(-MAX_SHIFT[1], MAX_SHIFT[1] + 1)]
    return tuple(sorted(shifts, key=lambda s: (s[0], abs(s[1]), abs(s[2]))))


def plane_histograms(signature: np.ndarray) -> np.ndarray:
    """(planes, BINS) histograms, each summing to 1, of a (planes, rows, cols) 0..255 signature."""
    planes = signature.reshape(signature.shape[0], -1)
    idx = np.clip(planes * (BINS / 256.0), 0, BINS - 1).astype(np.int64)
    hist = np.stack([np.bincount(row, minlength=BINS) for row in idx]).astype(np.float32)
    return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)


@dataclass
class ChangeGate:
    """Stateful per video: ``new_shot()`` at each cut, ``admit(...)`` per sampled frame."""

    threshold: float = 0.2
    window: float = 4.0
    new_share: float = 0.2  # of the picture brought in by a pan
    residual: float = 16.0  # mean grey difference (0..255) after alignment

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1 or self.window < 0:
            raise ValueError("gate threshold must be in [0, 1] and window >= 0 seconds")
        self.new_shot()

    def new_shot(self) -> None:
        self._hist: np.ndarray | None = None
        self._grey: np.ndarray | None = None
        self._time = 0.0

    def admit(self, time: float, signature: np.ndarray | None, shot_start: bool = False) -> bool:
        """True if the frame at ``time`` should be encoded (it then becomes the reference)."""
        if self.window <= 0 or signature is None:
            return True
        hist = plane_histograms(signature)
        if self._hist is not None and not shot_start and time - self._time < self.window:
            if 0.5 * float(np.abs(hist - self._hist).sum(axis=1).mean()) <= self.threshold:
                if explained_by_pan(signature[0], self._grey, self.new_share, self.residual):
                    return False
        # a copy: the signature may be a slot of the cut detector's ring, reused later
        self._hist, self._grey, self._time = hist, signature[0].copy(), time
        return True
