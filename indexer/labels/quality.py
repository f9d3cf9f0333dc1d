"""Quality figures of a label model against ground truth: frame-level precision / recall / F1
(:class:`indexer.labels.fit.Counts`), boundary error in frames and expected calibration error.

**Boundary error.** Every ground-truth segment (a curator's active segment) is matched to the
predicted segment that overlaps it most; the distances between their starts and between their
ends, in frames of the video (seconds x fps), are the errors. A truth segment no prediction
overlaps adds none (it shows up as missed frames in the recall instead).

**Expected calibration error.** Scores are binned into ``bins`` equal-width bins on [0, 1]; ECE is
the frame-weighted mean over bins of |mean score - fraction positive|.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ECE_BINS = 10


def boundary_errors(truth: Sequence[tuple[float, float]], predicted: Sequence[tuple[float, float]],
                    fps: float) -> list[float]:
    """Start and end errors (frames) of every truth segment some prediction overlaps."""
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    errors: list[float] = []
    for start, end in truth:
        overlaps = [(min(end, e) - max(start, s), s, e) for s, e in predicted if min(end, e) > max(start, s)]
        if overlaps:
            _overlap, s, e = max(overlaps)
            errors += [abs(s - start) * fps, abs(e - end) * fps]
    return errors


def expected_calibration_error(scores: np.ndarray, positive: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """ECE of probabilities ``scores`` against ``positive`` (None without frames)."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(positive, dtype=np.float64)
    if not s.size:
        return None
    which = np.minimum((s * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(s[sel].mean() - y[sel].mean())
    return float(total / s.size)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation) of ``values``; None when empty."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else None
