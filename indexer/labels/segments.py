"""Per-frame label decisions -> time segments with exact (cut) or bounded boundaries, and reports.

:func:`build_segments` turns one label's per-sample ``present`` flags into segments:

1. **Smoothing**: a 3-sample majority (median) filter on the flags, computed within each shot
   only (a window never reaches across a cut; ties keep the sample's own flag). It removes a
   single-sample blip or hole inside a shot and never moves the boundary of a run of >= 2 samples,
   nor touches a shot with a single sample.
2. **Boundaries**: a run of present samples starts where a cut lies between the last sample without
   the label and the first with it -- exactly at that cut (uncertainty 0). A gradual transition
   (fade, dissolve) reaching into that interval counts the same way, at its midpoint with uncertainty
   half its length: the honest answer, since both shots are on screen during a dissolve. Otherwise
   at the midpoint between the two samples, with uncertainty half their distance (~ every / 2). Ends
   likewise, at the first boundary after the last sample with the label. (If several boundaries lie
   between two samples, a shot was never sampled: the one nearest the label's samples is used,
   uncertainty = their spread plus its half-length.) A run of one sample inside a transition that
   bounds it on both sides is dropped (a blend, not a shot).
   A run that includes the first sample starts at 0.0, one that includes the last sample ends at
   ``duration`` (video edges count as exact boundaries, like cuts; if a cut follows the last sample,
   the end uncertainty is the time from that cut to the end).
3. **Gap merge**: neighbouring segments less than ``max_gap`` apart are joined, unless *both* sides
   of the gap are exact boundaries: then the gap is a whole shot without the label, which is real.
4. **Blip drop**: segments shorter than ``min_length`` are dropped unless both boundaries are exact
   (a short shot that fully shows the label is real).

Defaults (``MIN_LENGTH`` = 0.75 s, ``MAX_GAP`` = 1.0 s), at ``every`` = 0.5 s: a single-sample blip
not bounded by cuts spans ~0.5 s and is dropped (inside a shot the median filter already removes it);
a shot bounded by cuts survives however short, so a 1 s shot does; a run of two samples (1.0 s)
survives; a one-sample dropout next to a cut (a gap of at most ~0.75 s) is bridged, while a two-sample
dropout inside a shot (1.0 s) is kept as a gap.

The score of a segment is the mean label probability over its (smoothed) present samples.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from indexer.labels.classify import LabelModel
from indexer.types import Segment

log = logging.getLogger(__name__)

#: Default shortest segment (seconds) kept unless it is bounded by cuts/video edges on both sides.
MIN_LENGTH = 0.75
#: Default longest gap (seconds) between two segments of a label that is bridged.
MAX_GAP = 1.0
#: A shot boundary: a cut's time, or the (first, last) frame times of a gradual transition.
Bound = float | tuple[float, float]
_EPS = 1e-6  # seconds: two times closer than this are the same instant (cut time == frame time)


@dataclass
class _Span:
    """A run of present samples being turned into a segment (internal, mutable)."""

    first: int  # index of its first present sample
    last: int  # index of its last present sample
    start: float
    end: float
    start_uncertainty: float
    end_uncertainty: float
    start_exact: bool
    end_exact: bool


def build_segments(label: str, times: np.ndarray, scores: np.ndarray, present: np.ndarray,
                   cuts: Sequence[Bound], duration: float, every: float, *,
                   min_length: float = MIN_LENGTH, max_gap: float = MAX_GAP) -> list[Segment]:
    """Segments of one label from per-sample times (s), scores and present flags (see module doc).

    ``cuts`` are the shot boundaries: cut times (the first frame of each new shot) or (first, last)
    frame times of gradual transitions (a cut is (t, t)), in any order. ``duration`` the video's
    length and ``every`` the nominal sampling interval (boundary uncertainties come from the
    actual spacing of the samples around a boundary). Returns segments sorted by start.

    Raises ValueError if the arrays differ in length, ``times`` is not increasing, or ``duration``,
    ``every``, ``min_length`` or ``max_gap`` is negative / not finite (``every`` must be > 0).
    """
    t, s, flags, bounds, duration = _validate(times, scores, present, cuts, duration, every,
                                              min_length, max_gap)
    if t.size == 0:
        return []
    shot = np.searchsorted(bounds.mean(axis=1), t + _EPS, side="right")  # shot number of every sample
    flags = _smooth(flags, shot)
    spans = [sp for i, j in _runs(flags) if (sp := _place(i, j, t, bounds, duration)).end > sp.start]
    spans = _merge(spans, max_gap)
    kept = [sp for sp in spans
            if sp.end - sp.start >= min_length or (sp.start_exact and sp.end_exact)]
    if len(kept) < len(spans):
        log.debug("%s: dropped %d segment(s) shorter than %.2fs", label, len(spans) - len(kept), min_length)
    return [_segment(label, sp, s, flags) for sp in kept]


def _validate(times: np.ndarray, scores: np.ndarray, present: np.ndarray, cuts: Sequence[Bound],
              duration: float, every: float, min_length: float, max_gap: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    flags = np.asarray(present, dtype=bool).reshape(-1)
    if not t.size == s.size == flags.size:
        raise ValueError(f"times, scores and present differ in length ({t.size}, {s.size}, {flags.size})")
    if t.size and (not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0)):
        raise ValueError("sample times must be finite and strictly increasing")
    for name, value in (("duration", duration), ("min_length", min_length), ("max_gap", max_gap)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not math.isfinite(every) or every <= 0:
        raise ValueError(f"every must be a positive number of seconds, got {every!r}")
    if t.size and duration < t[-1]:
        log.warning("duration %.3fs is before the last sample %.3fs; using the latter", duration, t[-1])
        duration = float(t[-1])
    return t, s, flags, shot_bounds(cuts), float(duration)


def shot_bounds(bounds: Sequence[Bound]) -> np.ndarray:
    """(n, 2) float array of (first, last) boundary times sorted by first: a cut t is (t, t)."""
    pairs = [(float(b), float(b)) if np.isscalar(b) else (float(b[0]), float(b[1])) for b in bounds]
    if any(hi < lo for lo, hi in pairs):
        raise ValueError("a shot boundary ends before it starts")
    return np.array(sorted(pairs), dtype=np.float64).reshape(-1, 2)


def _smooth(flags: np.ndarray, shot: np.ndarray) -> np.ndarray:
    """3-sample majority filter within shots; ties (shot edges) keep the sample's own flag."""
    f = flags.astype(np.int64)
    prev_same = np.zeros_like(f)
    next_same = np.zeros_like(f)
    prev_same[1:] = shot[1:] == shot[:-1]
    next_same[:-1] = shot[:-1] == shot[1:]
    votes = f.copy()
    votes[1:] += f[:-1] * prev_same[1:]
    votes[:-1] += f[1:] * next_same[:-1]
    size = 1 + prev_same + next_same
    return np.where(2 * votes == size, flags, 2 * votes > size)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices of every run of True."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _place(i: int, j: int, t: np.ndarray, bounds: np.ndarray, duration: float) -> _Span:
    """Boundaries of the run of samples i..j (see the module docstring)."""
    start, start_unc, start_exact = _start_boundary(i, t, bounds)
    end, end_unc, end_exact = _end_boundary(j, t, bounds, duration)
    return _Span(i, j, start, end, start_unc, end_unc, start_exact, end_exact)


def _start_boundary(i: int, t: np.ndarray, bounds: np.ndarray) -> tuple[float, float, bool]:
    """(time, uncertainty, exact) of a run that starts at sample i."""
    if i == 0:
        return 0.0, 0.0, True
    between = bounds[(bounds[:, 1] > t[i - 1] + _EPS) & (bounds[:, 0] <= t[i] + _EPS)]
    if between.size:  # the label's shot begins at the latest of them
        return _honest(between, between[-1])
    return float(t[i - 1] + t[i]) / 2, float(t[i] - t[i - 1]) / 2, False


def _end_boundary(j: int, t: np.ndarray, bounds: np.ndarray, duration: float) -> tuple[float, float, bool]:
    """(time, uncertainty, exact) of a run that ends at sample j."""
    if j == t.size - 1:
        after = bounds[(bounds[:, 1] > t[j] + _EPS) & (bounds[:, 0] < duration - _EPS)]  # an unsampled last shot
        return duration, (duration - float(after[0].mean()) if after.size else 0.0), True
    between = bounds[(bounds[:, 1] > t[j] + _EPS) & (bounds[:, 0] <= t[j + 1] + _EPS)]
    if between.size:  # the label's shot ends at the earliest of them
        return _honest(between, between[0])
    return float(t[j] + t[j + 1]) / 2, float(t[j + 1] - t[j]) / 2, False


def _honest(between: np.ndarray, chosen: np.ndarray) -> tuple[float, float, bool]:
    """A boundary at ``chosen``'s midpoint, uncertain by its half-length plus the spread of
    the other boundaries ``between`` the same two samples."""
    middles = between.mean(axis=1)
    spread = float(middles[-1] - middles[0])
    return float(chosen.mean()), float(chosen[1] - chosen[0]) / 2 + spread, True


def _merge(spans: list[_Span], max_gap: float) -> list[_Span]:
    """Join neighbours less than ``max_gap`` apart unless both sides of the gap are exact."""
    out: list[_Span] = []
    for sp in spans:
        prev = out[-1] if out else None
        if prev and sp.start - prev.end < max_gap and not (prev.end_exact and sp.start_exact):
            prev.last, prev.end = sp.last, sp.end
            prev.end_uncertainty, prev.end_exact = sp.end_uncertainty, sp.end_exact
        else:
            out.append(sp)
    return out


def _segment(label: str, sp: _Span, scores: np.ndarray, flags: np.ndarray) -> Segment:
    window = slice(sp.first, sp.last + 1)
    score = float(np.clip(scores[window][flags[window]].mean(), 0.0, 1.0))
    return Segment(label=label, start=sp.start, end=sp.end, score=score,
                   start_uncertainty=sp.start_uncertainty, end_uncertainty=sp.end_uncertainty)


def label_segments(model: LabelModel, times: np.ndarray, vectors: np.ndarray, cuts: Sequence[Bound],
                   duration: float, every: float, *, min_length: float = MIN_LENGTH,
                   max_gap: float = MAX_GAP) -> list[Segment]:
    """Segments of every label of ``model`` for one video, sorted by start (then label).

    ``vectors`` are the frame embeddings sampled at ``times``. Raises ValueError as
    :meth:`LabelModel.scores` and :func:`build_segments` do.
    """
    scores = model.scores(vectors)
    present = model.present(scores)
    out: list[Segment] = []
    for c, label in enumerate(model.labels):
        if present[:, c].any():
            out.extend(build_segments(label, times, scores[:, c], present[:, c], cuts, duration, every,
                                      min_length=min_length, max_gap=max_gap))
    return sorted(out, key=lambda seg: (seg.start, seg.label))


# ----------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class LabelReport:
    """The answer to "does the video contain X, when first, for how long"."""

    label: str
    contains: bool
    first_appearance: float | None  # seconds; None when the label is absent
    total_duration: float  # seconds covered by at least one segment (overlaps counted once)
    share: float  # total_duration / video duration, in [0, 1]
    segments: tuple[Segment, ...]  # sorted by start

    def __post_init__(self) -> None:
        if self.contains != bool(self.segments):
            raise ValueError("contains must be true exactly when there are segments")
        if (self.first_appearance is None) == self.contains:
            raise ValueError("first_appearance must be given exactly when the label is present")
        if not math.isfinite(self.total_duration) or self.total_duration < 0:
            raise ValueError(f"total_duration must be >= 0, got {self.total_duration!r}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must be in [0, 1], got {self.share!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (times in seconds)."""
        return {"label": self.label, "contains": self.contains, "first_appearance": self.first_appearance,
                "total_duration": self.total_duration, "share": self.share,
                "segments": [s.to_dict() for s in self.segments]}


def make_report(label: str, segments: Sequence[Segment], duration: float) -> LabelReport:
    """Report on ``label`` from ``segments`` (those of other labels are ignored) in a video.

    Raises ValueError for a negative or non-finite ``duration``.
    """
    return report_of(label, [s for s in segments if s.label == label], duration)


def report_of(label: str, segments: Sequence[Segment], duration: float) -> LabelReport:
    """Report on ``label`` from the segments that make it present (its coverage pieces, which
    may carry a sub-category's label).

    Raises ValueError for a negative or non-finite ``duration``.
    """
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be a finite number >= 0, got {duration!r}")
    mine = tuple(sorted(segments, key=lambda s: (s.start, s.end)))
    total, reach = 0.0, -math.inf
    for seg in mine:  # union of spans: overlapping segments count once
        if seg.end > reach:
            total += seg.end - max(seg.start, reach)
            reach = seg.end
    share = min(1.0, total / duration) if duration > 0 else 0.0
    return LabelReport(label=label, contains=bool(mine), first_appearance=mine[0].start if mine else None,
                       total_duration=total, share=share, segments=mine)


def summarize_labels(segments: Sequence[Segment], duration: float) -> list[LabelReport]:
    """One report per label present in ``segments``, longest total duration first.

    Raises ValueError for a negative or non-finite ``duration``.
    """
    reports = [make_report(label, segments, duration) for label in sorted({s.label for s in segments})]
    return sorted(reports, key=lambda r: (-r.total_duration, r.label))
