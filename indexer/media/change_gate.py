"""Decide which sampled frames are worth an encode: spend the encoder where content changes.

The encoder is the main cost of indexing on a CPU. Frames are sampled every ``every`` seconds,
but a sampled frame whose colour distribution is still that of the last *encoded* frame of the
same shot adds little the encoder has not already seen. The gate lets a frame through when:

- it is the first sampled frame of a shot (so every shot gets at least one encode), or
- its Y/U/V histograms moved by more than ``threshold`` (total variation distance, 0..1,
  averaged over the three planes) from the last encoded frame -- histograms ignore camera
  pans but see new colours and objects of some size, or
- ``window`` seconds have passed since the last encode (slow drift is still seen).

The gate works on the cut detector's per-frame signature (Y/U/V cell means, already computed
for every decoded frame), so a frame it turns away is never even resized. Only frames that pass
are embedded and stored, so the uncertainty of a label boundary that is not at a cut is
honestly half the gap between the encoded frames around it. ``window`` 0 admits every
sampled frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 16  # histogram bins per plane over 0..255


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

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1 or self.window < 0:
            raise ValueError("gate threshold must be in [0, 1] and window >= 0 seconds")
        self.new_shot()

    def new_shot(self) -> None:
        self._hist: np.ndarray | None = None
        self._time = 0.0

    def admit(self, time: float, signature: np.ndarray | None, shot_start: bool = False) -> bool:
        """True if the frame at ``time`` should be encoded (it then becomes the reference)."""
        if self.window <= 0 or signature is None:
            return True
        hist = plane_histograms(signature)
        if self._hist is not None and not shot_start and time - self._time < self.window:
            if 0.5 * float(np.abs(hist - self._hist).sum(axis=1).mean()) <= self.threshold:
                return False
        self._hist, self._time = hist, time
        return True
