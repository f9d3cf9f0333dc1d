"""Bookkeeping of one decode pass: exact frame clocks and the damage a scan skipped.

:class:`Clock` gives every frame an exact time from its PTS (else DTS, else the previous PTS
plus one frame duration); :class:`Damage` counts errors, lost video time and when to give
up; :class:`ScanReport` is what a finished scan tells its caller.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from indexer.media.probe import VideoStream, frame_rate
from indexer.types import format_timestamp

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 200  # give up on a file after this many failures in a row
MAX_ERROR_MESSAGES = 10  # keep this many error lines in a report; count the rest
REORDER_DEPTH = 8  # frames held back to restore presentation order after damage


def latest_plausible(declared: float) -> float:
    """The latest time (seconds) a frame of a video whose container declares ``declared``
    seconds can be shown at: later stamps come from damaged timestamp tables (a broken MP4
    ``stts`` or a corrupt packet) and would put a frame of a 6 s ad at 48 minutes. Generous, as
    some containers' durations are estimates; unbounded when the container declares none."""
    return 1.5 * declared + 10.0 if declared > 0 else math.inf


@dataclass(frozen=True)
class ScanReport:
    """What decoding a whole video found: frames, true duration and damage skipped."""

    frames_decoded: int
    duration: float  # end of the last frame, seconds from stream start
    errors: tuple[str, ...]  # one short line per problem (empty for a clean file)
    lost_seconds: float  # estimated video time lost to damage

    def __post_init__(self) -> None:
        for name in ("frames_decoded", "duration", "lost_seconds"):
            if not math.isfinite(value := getattr(self, name)) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")



class Clock:
    """Exact frame times: PTS, else DTS, else the previous PTS plus one frame duration."""

    def __init__(self, stream: VideoStream) -> None:
        self.time_base = Fraction(stream.time_base or Fraction(1, av.time_base))
        # exact integers: (pts * num) / den is rounded once, like float(pts * time_base), and
        # costs no Fraction objects on every frame
        self._num, self._den = self.time_base.numerator, self.time_base.denominator
        self.start: int | None = stream.start_time
        rate = frame_rate(stream) or 25
        self.step = max(1, round(1 / (Fraction(rate) * self.time_base)))
        self.last: int | None = None
        self.warned = False

    def stamp(self, frame: av.VideoFrame) -> int:
        """The frame's timestamp in time_base units (estimated when the file has none)."""
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            if not self.warned:
                log.warning("frames without timestamps: estimating times from frame durations")
                self.warned = True
            if self.last is None:
                pts = self.start or 0
            else:
                pts = self.last + (frame.duration or self.step)
        if self.start is None:  # no stream start_time: the first frame starts the stream
            self.start = pts
        self.last = pts
        return pts

    def seconds(self, pts: int) -> float:
        """Seconds from the stream start of a timestamp in time_base units."""
        return (pts - (self.start or 0)) * self._num / self._den


class Damage:
    """Bounded bookkeeping of decode errors and of video time lost to them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self.count = self.consecutive = self.recent = self.frames = self.corrupt = self.misstamped = 0
        #: frames stamped later than this (seconds) have damaged timestamps (:func:`latest_plausible`)
        self.limit = math.inf
        self.lost = Fraction(0)
        self.deltas: deque[int] = deque(maxlen=16)

    @property
    def gave_up(self) -> bool:
        return self.consecutive > MAX_CONSECUTIVE_ERRORS

    def error(self, message: str) -> None:
        """Record one failure; a run of failures is reported once."""
        self.count += 1
        self.consecutive += 1
        self.recent = 2 * REORDER_DEPTH + 2  # gaps in the next frames count as lost
        if self.consecutive == 1:
            self.note(message)
        log.debug("%s: %s", self.path, message)
        if self.gave_up:
            self.note(f"gave up after {MAX_CONSECUTIVE_ERRORS} consecutive errors")

    def note(self, message: str) -> None:
        """Keep a report line (up to MAX_ERROR_MESSAGES) and log it (at INFO: the file's report
        sums the damage up, and ``-v`` shows every line)."""
        if len(self.messages) < MAX_ERROR_MESSAGES:
            self.messages.append(message)
        log.info("%s: %s", self.path, message)

    def decoded(self, frame: av.VideoFrame) -> None:
        self.frames += 1
        self.consecutive = 0
        if frame.is_corrupt:
            self.corrupt += 1
            self.recent = 2 * REORDER_DEPTH + 2

    def stamped_late(self, at: float) -> None:
        """Record a frame stamped at ``at`` seconds, past :attr:`limit`: it is skipped, its
        timestamp damaged; the first one is noted."""
        self.misstamped += 1
        if self.misstamped == 1:
            self.note(f"frames stamped past the container's end (the first at {format_timestamp(at)}, "
                      f"after {format_timestamp(self.limit)}) skipped: damaged timestamps")

    def gap(self, delta: int, clock: Clock, at: float) -> None:
        """Check the PTS step to the next frame; count a jump after damage as lost time.

        Without a decode error, only a jump in an otherwise steady frame rate counts (data
        silently dropped by the demuxer); variable-frame-rate pauses do not.
        """
        typical = sorted(self.deltas)[len(self.deltas) // 2] if self.deltas else None
        spread = max(self.deltas) - min(self.deltas) if self.deltas else 0
        steady = len(self.deltas) >= 4 and spread <= max(1, typical // 50)
        damaged, self.recent = self.recent > 0, max(0, self.recent - 1)
        if typical and (damaged or steady) and delta > 1.5 * typical + 1:
            lost = (delta - typical) * clock.time_base
            self.lost += lost
            self.note(f"{float(lost):.2f}s of video lost before {format_timestamp(at)}")
        else:
            self.deltas.append(delta)

    def report(self, end: float) -> ScanReport:
        """The ScanReport of a scan whose last frame ended at ``end`` seconds."""
        messages = list(self.messages)
        if self.corrupt:
            messages.append(f"{self.corrupt} frames decoded with errors")
        if self.misstamped > 1:
            messages.append(f"{self.misstamped} frames with damaged timestamps skipped")
        if self.count > 1:
            messages.append(f"{self.count} decoding errors in all")
        return ScanReport(self.frames, max(0.0, end), tuple(messages), float(self.lost))
