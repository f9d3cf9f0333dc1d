"""Decide which sampled frames are worth an encode: spend the encoder where content changes.

The encoder is the main cost of indexing on a CPU. Frames are sampled every ``every`` seconds,
but a sampled frame whose colour distribution is still that of the last *encoded* frame of the
same shot adds nothing the encoder has not already seen. The gate lets a frame through when:

- it is the first sampled frame of a shot (so every shot gets at least one encode), or
- its colour histogram (4 levels per channel, 64 bins) moved by more than ``threshold`` in total
  variation distance (0..1) from the last encoded frame, or
- ``window`` seconds have passed since the last encode (slow drift is still seen).

Only frames that pass are embedded and stored, so the uncertainty of a label boundary that is
not at a cut is honestly half the gap between the encoded frames around it.
``window`` 0 lets every sampled frame through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import SampledFrame


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """64-bin RGB histogram (4 levels per channel) of a uint8 image, summing to 1."""
    q = (image >> 6).astype(np.uint8)
    idx = (q[..., 0] << 4) | (q[..., 1] << 2) | q[..., 2]
    hist = np.bincount(idx.ravel(), minlength=64).astype(np.float32)
    return hist / max(1.0, float(hist.sum()))


@dataclass
class ChangeGate:
    """Stateful per video: call ``new_shot()`` at each cut and ``admit(frame)`` per sample."""

    threshold: float = 0.15
    window: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1 or self.window < 0:
            raise ValueError("gate threshold must be in [0, 1] and window >= 0 seconds")
        self.new_shot()

    def new_shot(self) -> None:
        self._hist: np.ndarray | None = None
        self._time = 0.0

    def admit(self, frame: SampledFrame) -> bool:
        """True if ``frame`` should be encoded (and then becomes the reference)."""
        if self.window > 0 and self._hist is not None and not frame.shot_start \
                and frame.time - self._time < self.window:
            hist = colour_histogram(frame.image)
            if 0.5 * float(np.abs(hist - self._hist).sum()) <= self.threshold:
                return False
            self._hist, self._time = hist, frame.time
            return True
        self._hist, self._time = colour_histogram(frame.image), frame.time
        return True
