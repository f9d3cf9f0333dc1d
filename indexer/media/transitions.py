"""Gradual transitions -- fades to and from a flat colour, cross-dissolves -- as frame intervals.

A dissolve is a run of frames each of which is a blend ``(1 - a) * A + a * B`` of the frame ``A``
before it and the frame ``B`` after it, with ``a`` rising from 0 to 1; a fade is the same with a
flat frame (black, white, any colour) on one side. :class:`GradualFinder` works on the per-frame
signatures the cut detector already computes (no extra decode), kept in a
:class:`~indexer.media.signature.FrameRing`:

1. **Mark** (every frame, a few small array operations): frame ``c`` looks like the middle of a
   blend at scale ``w`` when the frames ``w`` before and after it differ by at least
   :data:`MARK_DISTANCE` and ``c`` lies close to their average (residual <= :data:`MARK_RESIDUAL`
   of their distance). Static shots (no difference), hard cuts (the middle frame equals one side)
   and most motion (the middle frame is no average) are not marked.
2. **Fit** (once per run of marked frames, when it is over): starting from the widest mark, take
   the frames ``w`` before and after it as ``A`` and ``B``, project every frame on ``B - A`` to get
   its blend factor ``a``, walk outwards while ``a`` keeps moving, and place the first and last
   frame of the transition where ``a`` leaves :data:`EDGE` of 0 and 1 (refined with the new ``A``
   and ``B`` until stable). Then the frames before and after it are fitted the same way (a fade
   out, a few black frames and a fade in are three shots and two transitions).
3. **Check**: the shots differ by at least :data:`MIN_STRENGTH`; ``a`` never goes back; every
   frame is close to its blend; and the frames just outside change much more slowly than the
   frames inside (so a steady camera pan, which also moves in a straight line, is not a dissolve).

A transition never reaches across a hard cut. The kind is ``fade_out`` when ``B`` is flat,
``fade_in`` when ``A`` is, else ``dissolve``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from indexer.media.signature import FrameRing
from indexer.types import Transition

log = logging.getLogger(__name__)

SCALES = (2, 3, 5, 8, 12)  # half-widths (frames) of the blend test
MARK_DISTANCE = 2.0  # 0..255 mean absolute difference the frames around a blend must show,
MARK_CHANGE = 2.0  # and this many times the change over as many frames just before them
MARK_RESIDUAL = 0.2  # a blend's middle frame lies within this share of that distance of the average
MIN_STRENGTH = 6.0  # the shots on either side of a transition differ at least this much
EDGE = 0.03  # blend factor beyond which a frame belongs to the transition
MAX_RESIDUAL = 0.25  # share of the strength a frame may stray from its blend (+ 1 level of noise)
MAX_OUTSIDE_RATE = 0.5  # change just outside over as many frames, as a share of the change inside
CALM_FRAMES = 6  # (at most this many frames)
FLAT_STD = 4.0  # a frame whose cells vary less than this (each plane) is a flat colour
_SCALES = np.array(SCALES)
#: how many of SCALES fit in h frames of history, for h = 0 .. max(SCALES)
_SCALE_COUNT = tuple(int(np.count_nonzero(_SCALES <= h)) for h in range(max(SCALES) + 1))
#: frame offsets back from the newest frame of the blend tests at the first k scales:
#: the newest frame, the frames 2w back (before the blend), the frames w back (its middle)
_MARK_OFFSETS = {k: np.concatenate(([0], 2 * _SCALES[:k], _SCALES[:k])) for k in range(1, len(SCALES) + 1)}
_MARGIN = 2 * max(SCALES) + 2  # frames of context the fit takes on each side of a marked run


@dataclass
class _Run:
    """Marked frames not yet fitted: (centre, scale) of each mark, and how far they reach."""

    marks: list[tuple[int, int]]
    reach: int  # last frame any mark's blend test used

    @property
    def start(self) -> int:
        """First frame any mark's blend test used."""
        return min(c - w for c, w in self.marks)


class GradualFinder:
    """Find gradual transitions in the frames of a :class:`FrameRing` (see the module doc).

    Call :meth:`advance` once per frame number, in order, once hard cuts up to that frame are
    decided, with the number of the first frame of the current shot; :meth:`finish` at the end.
    ``window`` is the (rows, columns) slice of the picture inside any black bars, ``inner``
    the same less the cells along a bar's edge (half bar, half picture: never flat).
    """

    def __init__(self, ring: FrameRing) -> None:
        self.ring = ring
        self.window: tuple[slice, slice] = (slice(None), slice(None))
        self.inner: tuple[slice, slice] = self.window  # less the cells along a bar's edge
        self.reset()

    def reset(self) -> None:
        self._run: _Run | None = None
        self._shot_start = 0

    def advance(self, now: int, shot_start: int) -> list[Transition]:
        """Mark frame ``now``'s blends; return transitions whose fit is complete."""
        found: list[Transition] = []
        if shot_start != self._shot_start:  # a hard cut: nothing reaches across it
            found += self._close(shot_start - 1)
            self._shot_start = shot_start
        centre, scale = self._mark(now)
        run = self._run
        if centre is not None:
            if run is not None and (centre - scale > run.reach + _MARGIN
                                    or now - run.start > self.ring.capacity - 3 * _MARGIN):
                found += self._close(centre - scale - 1)  # a new run (a long one must end: the
                run = None  # ring forgets its first frames)
            if run is None:
                self._run = run = _Run([], now)
            run.marks.append((centre, scale))
            run.reach = now
        elif run is not None and now >= run.reach + _MARGIN:
            found += self._close(now)
        return found

    def finish(self, last: int) -> list[Transition]:
        """Fit what is still open at the end of the video (``last`` = last frame number)."""
        return self._close(last)

    def _mark(self, now: int) -> tuple[int | None, int]:
        """(centre, scale) of the widest blend test frame ``now`` completes, else (None, 0).
        Every other frame only: a transition of 4 frames or more is still marked."""
        if now % 2:
            return None, 0
        lowest = max(self._shot_start, self.ring.oldest)
        k = _SCALE_COUNT[max(0, min((now - lowest) // 2, max(SCALES)))]  # scales that fit: a prefix
        if k == 0:
            return None, 0
        ring = self.ring
        scales = _SCALES[:k]
        rows = ring.flat(now - _MARK_OFFSETS[k])  # frames now, now - 2w and now - w: one gather
        after, before, middle = rows[0], rows[1:k + 1], rows[k + 1:]
        # sums rather than means over the row: every test below compares like with like
        distance = np.add.reduce(np.abs(before - after), axis=1)
        residual = np.add.reduce(np.abs(middle - 0.5 * (after + before)), axis=1)
        ok = (distance >= MARK_DISTANCE * rows.shape[1]) & (residual <= MARK_RESIDUAL * distance)
        if not ok.any():
            return None, 0
        # as much change just before: a steady camera move, not a transition starting
        earlier = np.maximum(lowest, now - 4 * scales)
        calm = now - 2 * scales - earlier >= 2
        if calm.any():
            moved = np.add.reduce(np.abs(before - ring.flat(earlier)), axis=1)
            ok &= ~calm | (distance >= MARK_CHANGE * moved)
        if not ok.any():
            return None, 0
        w = int(scales[np.flatnonzero(ok)[-1]])
        return now - w, w

    def _close(self, bound: int) -> list[Transition]:
        """Fit the open run of marks with frames up to ``bound``; forget the run."""
        run, self._run = self._run, None
        if run is None:
            return []
        first = max(self._shot_start, self.ring.oldest, run.start - _MARGIN)
        last = min(bound, run.reach + _MARGIN)
        found = self._fit_all(first, last, run.marks, depth=3)
        for transition in found:
            log.debug("%s %.3f-%.3fs (strength %.1f)", transition.kind, transition.start,
                      transition.end, transition.strength)
        return found

    def _fit_all(self, first: int, last: int, marks: list[tuple[int, int]], depth: int) -> list[Transition]:
        """Every transition among frames first..last: the clearest one (seeded by the widest
        mark), then those before and after it (a fade out and a fade in through black)."""
        inside = [(c, w) for c, w in marks if c - w >= first and c + w <= last]
        for _ in range(3):
            if last - first < 3 or not inside:
                return []
            seed = max(inside, key=lambda m: (m[1], -abs(m[0] - (first + last) / 2)))
            fitted = self._fit(first, last, seed)
            if fitted is not None:
                break
            inside = [(c, w) for c, w in inside if abs(c - seed[0]) > seed[1]]
        else:
            return []
        transition, ja, jb = fitted
        if depth == 0:
            return [transition]
        return (self._fit_all(first, first + ja, inside, depth - 1) + [transition]
                + self._fit_all(first + jb, last, inside, depth - 1))

    def _fit(self, first: int, last: int, seed: tuple[int, int]) -> tuple[Transition, int, int] | None:
        """The transition around the mark ``seed`` among frames first..last with the positions
        (from ``first``) of its frames A and B, or None when they hold no clean blend."""
        rows, cols = self.window
        frames = self.ring.span(first, last)[:, :, rows, cols].reshape(last - first + 1, -1)
        centre, scale = seed
        ja, jb = _grow(frames, centre - scale - first, centre + scale - first, scale)
        for _ in range(4):
            edges = _edges(frames, ja, jb)
            if edges is None:
                return None
            a, b = edges
            if (a - 1, b + 1) == (ja, jb):
                break
            ja, jb = a - 1, b + 1
        if not _is_clean_blend(frames, ja, jb):
            return None
        return self._transition(frames, first, ja, jb), ja, jb

    def _transition(self, frames: np.ndarray, first: int, ja: int, jb: int) -> Transition:
        start, start_pts = self.ring.stamp(first + ja + 1)
        end, end_pts = self.ring.stamp(first + jb - 1)
        strength = float(np.abs(frames[jb] - frames[ja]).mean())
        rows, cols = self.inner
        before = self.ring[first + ja][:, rows, cols].reshape(3, -1)
        after = self.ring[first + jb][:, rows, cols].reshape(3, -1)
        if _is_flat(after) and not _is_flat(before):
            kind, colour = "fade_out", _colour_name(after)
        elif _is_flat(before) and not _is_flat(after):
            kind, colour = "fade_in", _colour_name(before)
        else:
            kind, colour = "dissolve", ""
        return Transition(kind=kind, start=start, end=end, start_pts=start_pts, end_pts=end_pts,
                          strength=strength, colour=colour)


def _blend_factors(frames: np.ndarray, ja: int, jb: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(a per frame, B - A, mean |B - A|) with A = frames[ja], B = frames[jb]."""
    direction = frames[jb] - frames[ja]
    norm = float(direction @ direction)
    if norm <= 0:
        return np.zeros(len(frames)), direction, 0.0
    return (frames - frames[ja]) @ direction / norm, direction, float(np.abs(direction).mean())


def _grow(frames: np.ndarray, ja: int, jb: int, scale: int) -> tuple[int, int]:
    """Widen (ja, jb), two frames of one blend, to the frames just before and after it: walk
    outwards while the blend factor keeps moving at a good share of its rate between them."""
    alpha, _, _ = _blend_factors(frames, ja, jb)
    step = 0.3 / (2 * scale)
    while ja > 0 and alpha[ja - 1] < alpha[ja] - step:
        ja -= 1
    while jb < len(frames) - 1 and alpha[jb + 1] > alpha[jb] + step:
        jb += 1
    return ja, jb


def _edges(frames: np.ndarray, ja: int, jb: int) -> tuple[int, int] | None:
    """(first, last) transition frame between A = frames[ja] and B = frames[jb], or None."""
    alpha, _, strength = _blend_factors(frames, ja, jb)
    if strength < MIN_STRENGTH or jb - ja < 2:
        return None
    inner = np.arange(ja + 1, jb)
    middle = inner[alpha[inner] >= 0.5]
    if middle.size == 0:
        return None
    mid = int(middle[0])
    low = np.flatnonzero(alpha[ja:mid] <= EDGE)
    high = np.flatnonzero(alpha[mid:jb + 1] >= 1 - EDGE)
    if low.size == 0 or high.size == 0:
        return None
    return ja + int(low[-1]) + 1, mid + int(high[0]) - 1


def _is_clean_blend(frames: np.ndarray, ja: int, jb: int) -> bool:
    """The frames strictly between ja and jb rise steadily from A to B, each close to its blend,
    and the frames just outside change much more slowly."""
    alpha, direction, strength = _blend_factors(frames, ja, jb)
    if jb - ja < 2 or strength < MIN_STRENGTH:
        return False
    if np.any(np.diff(alpha[ja:jb + 1]) < -0.1):
        return False
    inside = np.arange(ja + 1, jb)
    blends = frames[ja] + alpha[inside, None] * direction
    residual = np.abs(frames[inside] - blends).mean(axis=1)
    if residual.max() > MAX_RESIDUAL * strength + 1.0:
        return False
    return _calm_outside(frames, ja, jb, strength)


def _calm_outside(frames: np.ndarray, ja: int, jb: int, strength: float) -> bool:
    """Over as many frames as the transition lasts (as far as held), the frames before A and
    after B change much less than the transition does: no steady camera move."""
    span = jb - ja
    k = min(span, CALM_FRAMES)
    for near, far in ((ja, ja - min(k, ja)), (jb, jb + min(k, len(frames) - 1 - jb))):
        k = abs(near - far)
        if k >= 2:
            moved = float(np.abs(frames[near] - frames[far]).mean())
            if moved > MAX_OUTSIDE_RATE * strength * k / span:
                return False
    return True


def _is_flat(signature: np.ndarray) -> bool:
    """True when every plane of a (3, cells) signature is (nearly) one value."""
    return bool(np.all(signature.std(axis=1) <= FLAT_STD))


def _colour_name(signature: np.ndarray) -> str:
    """``black``, ``white`` or ``colour`` for a flat (3, cells) signature."""
    y, u, v = (float(plane.mean()) for plane in signature)
    neutral = abs(u - 128) < 12 and abs(v - 128) < 12
    if neutral and y < 48:
        return "black"
    if neutral and y > 200:
        return "white"
    return "colour"
