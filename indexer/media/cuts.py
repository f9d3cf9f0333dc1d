"""Shot boundaries from a cheap per-frame signature: hard cuts, flashes and gradual transitions.

:class:`CutDetector` runs on every decoded frame. It computes the frame's Y/U/V cell signature
(:mod:`indexer.media.signature`) and scores it against the previous frame: the mean absolute difference
(0..255 units) over the active picture (black letterbox / pillarbox bars left out). A frame is a
*candidate* cut when its score reaches the adaptive threshold: an absolute floor, ``ratio`` times
the median of the recent scores and the median plus ``spread`` robust deviations of them (so the
threshold follows the video's own noise: busy, shaky footage needs a stronger jump, calm footage
keeps low-contrast cuts). A candidate is decided :data:`LOOKAHEAD` frames later:

- **flash**: when one of the next three frames is back near the frame before the candidate
  (a photo flash, a white frame, a blink of a few frames), it is no cut;
- **gradual**: when the change is a step of a steady change (the previous or next step is large
  and points the same way: a fast fade or dissolve), it is left to the gradual finder;
- otherwise it is a cut, unless the current shot is shorter than ``min_shot`` seconds.

Every frame also goes to a :class:`~indexer.media.transitions.GradualFinder`, which reports fades and
dissolves as intervals once they are over. :meth:`CutDetector.feed` returns the cuts and
transitions decided at that frame (each carries its own time), :meth:`CutDetector.flush` the rest
at the end of the video.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import av
import numpy as np

from indexer.media.signature import ActiveArea, FrameRing, SignatureGrid
from indexer.media.transitions import GradualFinder
from indexer.types import ShotCut, Transition

log = logging.getLogger(__name__)

#: Frames a cut decision waits for (a flash lasts at most three frames, plus one).
LOOKAHEAD = 4
_FLASH_FRAMES = 3  # the longest flash: back to the shot by the fourth frame
_FLASH_RETURN = 0.5  # "back": within this share of the candidate's score of the frame before it
_CONTINUES = 0.3  # a neighbour step this large (share of the candidate's) ...
_SAME_WAY = 0.6  # ... and this aligned (cosine) makes the candidate part of a gradual change
_RING = 384  # frames of signatures kept for the gradual finder (runs of transitions up to ~12 s at 25 fps)
_MAD_SIGMA = 1.4826  # median absolute deviation -> standard deviation of normal noise

Event = ShotCut | Transition


@dataclass
class _Candidate:
    index: int
    score: float
    limit: float


class CutDetector:
    """Detect hard cuts and gradual transitions; feed it every decoded frame in presentation order.

    ``threshold`` is the absolute floor of the score (0..255 scale), ``ratio`` the multiple of
    the median recent score and ``spread`` the number of robust deviations above that median a
    cut must also reach, ``window`` how many recent scores these cover, ``min_shot`` the shortest
    shot in seconds (closer cuts are ignored), ``cells`` the (rows, columns) of the signature
    grid, ``gradual`` whether fades and dissolves are looked for.
    """

    def __init__(
        self,
        *,
        threshold: float = 8.0,
        ratio: float = 3.0,
        spread: float = 4.0,
        window: int = 24,
        min_shot: float = 0.2,
        cells: tuple[int, int] = (18, 32),
        gradual: bool = True,
    ) -> None:
        if threshold <= 0 or ratio < 1 or spread < 0 or window < 1 or min_shot < 0:
            raise ValueError("need threshold > 0, ratio >= 1, spread >= 0, window >= 1 and min_shot >= 0")
        self.grid = SignatureGrid(cells)
        self.cells = self.grid.cells
        self.threshold = float(threshold)
        self.ratio = float(ratio)
        self.spread = float(spread)
        self.min_shot = float(min_shot)
        self.area = ActiveArea(self.cells)
        self.ring = FrameRing(_RING, self.cells)
        self.finder = GradualFinder(self.ring) if gradual else None
        self._recent: deque[float] = deque(maxlen=window)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames, bars and score history (e.g. before a new video)."""
        self.ring.count = 0
        self.area.reset()
        self._recent.clear()
        self._pending: deque[_Candidate] = deque()
        self._shot_start = 0  # frame number of the current shot's first frame
        self._shot_time = 0.0  # and its time
        self._decided = -1  # frames up to this number are decided
        if self.finder is not None:
            self.finder.reset()

    def feed(self, frame: av.VideoFrame, time: float, pts: int) -> list[Event]:
        """Take the next frame (``time`` in seconds from stream start, ``pts`` its own); return
        the cuts and transitions decided now. A cut's time and PTS are those of the first frame
        of the new shot, which lies at most :data:`LOOKAHEAD` frames back."""
        signature = self.grid(frame, out=self.ring.next_slot())
        if self.area.update(signature) and self.finder is not None:
            self.finder.window, self.finder.inner = self.area.window, self.area.inner
        index = self.ring.push(time, pts)
        if index == 0:
            self._shot_time = time
        else:
            self._score(index)
        return self._decide(index, final=False)

    def flush(self) -> list[Event]:
        """Decide everything still open at the end of the video."""
        return self._decide(self.ring.count - 1, final=True)

    def limit(self) -> float:
        """The score the next frame must reach to be a cut candidate."""
        if not self._recent:
            return self.threshold
        scores = np.fromiter(self._recent, dtype=np.float64)
        median = float(np.median(scores))
        deviation = _MAD_SIGMA * float(np.median(np.abs(scores - median)))
        return max(self.threshold, self.ratio * median, median + self.spread * deviation)

    @property
    def last_signature(self) -> np.ndarray | None:
        """The signature of the frame fed last (None before the first)."""
        return self.ring[self.ring.count - 1] if self.ring.count else None

    def signature(self, frame: av.VideoFrame) -> np.ndarray:
        """Return the (3, rows, cols) float32 Y/U/V cell means of ``frame`` (0..255)."""
        return self.grid(frame)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Mean absolute difference of two signatures over the active picture."""
        rows, cols = self.area.window
        if rows.start is None and cols.start is None:  # no bars: the whole (contiguous) signature
            difference = a - b
        else:
            difference = a[:, rows, cols] - b[:, rows, cols]
        return float(np.abs(difference, out=difference).sum()) / difference.size

    def _score(self, index: int) -> None:
        score = self.distance(self.ring[index], self.ring[index - 1])
        # below the absolute floor no median is needed (most frames): skip computing it
        limit = self.limit() if score >= self.threshold else self.threshold
        self._recent.append(score)
        if score >= limit:
            self._pending.append(_Candidate(index, score, limit))

    def _decide(self, newest: int, *, final: bool) -> list[Event]:
        """Settle candidates old enough (all when ``final``), then advance the gradual finder."""
        events: list[Event] = []
        while self._pending and (final or newest - self._pending[0].index >= LOOKAHEAD
                                 or self._settled_early(self._pending[0], newest)):
            candidate = self._pending.popleft()
            cut = self._verdict(candidate, newest)
            if cut is not None:
                events += self._advance_finder(candidate.index - 1)
                self._shot_start, self._shot_time = candidate.index, cut.time
                events.append(cut)
        decided = newest if final else min(newest - LOOKAHEAD,
                                           self._pending[0].index - 1 if self._pending else newest)
        events += self._advance_finder(decided)
        if final and self.finder is not None:
            events += self.finder.finish(newest)
        return events

    def _advance_finder(self, upto: int) -> list[Event]:
        events: list[Event] = []
        while self._decided < upto:
            self._decided += 1
            if self.finder is not None:
                events += self.finder.advance(self._decided, self._shot_start)
        return events

    def _settled_early(self, candidate: _Candidate, newest: int) -> bool:
        """A flash is recognised as soon as the video is back to the shot."""
        return self._flash_end(candidate, newest) is not None

    def _flash_end(self, candidate: _Candidate, newest: int) -> int | None:
        """The frame where the video is back to the frame before ``candidate``, if within a flash."""
        before = self.ring[candidate.index - 1]
        for j in range(candidate.index + 1, min(newest, candidate.index + _FLASH_FRAMES) + 1):
            if self.distance(self.ring[j], before) <= _FLASH_RETURN * candidate.score:
                return j
        return None

    def _verdict(self, candidate: _Candidate, newest: int) -> ShotCut | None:
        """The cut ``candidate`` makes, or None (flash, gradual change, too short a shot)."""
        index = candidate.index
        time, pts = self.ring.stamp(index)
        back = self._flash_end(candidate, newest)
        if back is not None:
            log.debug("flash at %.3fs (%d frames), no cut", time, back - index)
            self._pending = deque(c for c in self._pending if c.index > back)
            return None
        if self._is_gradual(index, newest):
            log.debug("steady change at %.3fs (score %.1f), no hard cut", time, candidate.score)
            return None
        if time - self._shot_time < self.min_shot:
            log.debug("cut candidate at %.3fs (score %.1f) inside min shot length", time, candidate.score)
            return None
        log.debug("cut at %.6fs pts %d score %.1f (limit %.1f)", time, pts, candidate.score, candidate.limit)
        return ShotCut(time=time, pts=pts, score=candidate.score, margin=candidate.score - candidate.limit)

    def _is_gradual(self, index: int, newest: int) -> bool:
        """True when the step into ``index`` continues in the previous or next step."""
        ring = self.ring
        step = (ring[index] - ring[index - 1]).ravel()
        size = float(np.abs(step).mean())
        for a, b in ((index - 2, index - 1), (index, index + 1)):
            if a < ring.oldest or b > newest:
                continue
            other = (ring[b] - ring[a]).ravel()
            if float(np.abs(other).mean()) < _CONTINUES * size:
                continue
            cosine = float(step @ other) / (float(np.linalg.norm(step) * np.linalg.norm(other)) or 1.0)
            if cosine >= _SAME_WAY:
                return True
        return False
