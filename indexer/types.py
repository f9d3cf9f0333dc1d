"""Validated, frozen values that flow between the indexer's stages.

Time is always seconds from the video stream's start, computed from PTS x time_base
(never frame_count / fps). Frame rates are exact fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

#: Longest label a person may give (a curator's tag, a report's label or prompt).
MAX_LABEL_CHARS = 200


def _check_time(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def check_sample_every(every: float) -> float:
    """``every`` (seconds between sampled frames) as a float; ValueError unless finite and > 0.

    The one check of the sampling interval, used by the CLI, the scanner, the pipeline and the store.
    """
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every) or every <= 0:
        raise ValueError(f"the sampling interval must be a finite number of seconds > 0, got {every!r}")
    return float(every)


def format_timestamp(seconds: float) -> str:
    """Format seconds as ``HH:MM:SS.mmm`` (rounded to the millisecond)."""
    _check_time("seconds", seconds)
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


#: Decimal places of every float in JSON output: times to the microsecond (no 3.2800000000000002).
JSON_DECIMALS = 6


def round_for_json(value: Any) -> Any:
    """``value`` with every float (in nested dicts, lists and tuples) rounded to
    :data:`JSON_DECIMALS` places: times to the microsecond, shares and scores alike.

    The CLI's ``--json`` output and the web API both pass through this, so float noise from
    sums and differences of exact times never reaches a user.
    """
    if isinstance(value, float):
        return round(value, JSON_DECIMALS) if math.isfinite(value) else value
    if isinstance(value, dict):  # leaves that need nothing are not passed down (a hot path)
        return {key: item if type(item) in _AS_IS else round_for_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _AS_IS else round_for_json(item) for item in value]
    return value


_AS_IS = frozenset({str, int, bool, type(None)})


@dataclass(frozen=True)
class VideoInfo:
    """What probing a video file tells before decoding it."""

    path: Path
    duration: float  # seconds, best estimate (container/stream), refined by decoding
    fps: Fraction | None  # average frame rate as an exact fraction; None if unknown
    width: int  # display width (after rotation)
    height: int  # display height (after rotation)
    rotation: int  # degrees clockwise applied for display: 0, 90, 180 or 270
    start_time: float  # stream start in seconds (PTS of the first frame x time_base)
    codec: str

    def __post_init__(self) -> None:
        _check_time("duration", self.duration)
        _check_time("start_time", self.start_time)
        if self.fps is not None and (not isinstance(self.fps, Fraction) or self.fps <= 0):
            raise ValueError(f"fps must be a positive Fraction or None, got {self.fps!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270, got {self.rotation!r}")


@dataclass(frozen=True)
class Picture:
    """The whole frame for extractors that read it (OCR), in the form its source had cheapest:
    ``yuv``, I420 planes as PyAV scaled them (shape (H * 3 / 2, W) uint8, H and W even: the luma
    rows, then the two quarter-size chroma planes), or ``rgb`` (H, W, 3) uint8. ``rotation``
    (degrees clockwise) is the display rotation still to apply to either.

    Planes rather than RGB: scaling without colour conversion is 3x cheaper, half the bytes,
    and a frame only glanced at in grey (OCR's change gate) never needs colour at all.
    """

    yuv: np.ndarray | None = field(default=None, repr=False, compare=False)
    rgb: np.ndarray | None = field(default=None, repr=False, compare=False)
    rotation: int = 0

    def __post_init__(self) -> None:
        if (self.yuv is None) == (self.rgb is None):
            raise ValueError("a Picture holds either yuv planes or rgb, not both or neither")
        if self.yuv is not None:
            yuv = self.yuv
            if yuv.dtype != np.uint8 or yuv.ndim != 2 or not yuv.shape[0] or yuv.shape[0] % 3 or yuv.shape[1] % 2:
                raise ValueError("yuv must be I420 planes: uint8 of shape (H * 3 / 2, W), H and W even")
        elif not (self.rgb.dtype == np.uint8 and self.rgb.ndim == 3 and self.rgb.shape[2] == 3):
            raise ValueError("rgb must be an RGB uint8 array of shape (H, W, 3)")
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270 degrees, got {self.rotation!r}")


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame: chosen for embedding (``encoded``) or, when extractors asked for
    pictures, a sampled frame the change gate turned away, for the extractors only.

    ``image`` is an RGB uint8 array of shape (S, S, 3): resized by PyAV so the short side
    is S, centre-cropped to a square, display rotation applied; ready for the encoder. A frame
    the gate turned away carries none (None): nothing encodes it.
    """

    time: float  # seconds from stream start (from PTS)
    pts: int
    image: np.ndarray | None = field(repr=False, compare=False)
    shot_start: bool = False  # True for the first sampled frame after a detected cut
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)  # small RGB, full frame
    #: the whole frame for extractors that read it (OCR), at most the scanner's ``picture_width`` wide
    picture: Picture | None = field(default=None, repr=False, compare=False)
    encoded: bool = True  # False: the change gate turned it away (only extractors see it)

    def __post_init__(self) -> None:
        _check_time("time", self.time)
        img = self.image
        if img is None and not self.encoded:
            return
        if not (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3
                and img.shape[2] == 3 and img.shape[0] == img.shape[1]):
            raise ValueError("image must be a square RGB uint8 array of shape (S, S, 3) (None only on a "
                             "frame that is not encoded)")


@dataclass(frozen=True)
class ShotCut:
    """A detected hard cut: the first frame of a new shot starts at ``time``."""

    time: float  # seconds from stream start (PTS of the first frame after the cut)
    pts: int
    score: float  # detector's difference score (higher = stronger cut)
    margin: float | None = None  # score minus the threshold it had to reach (None: not recorded)

    def __post_init__(self) -> None:
        _check_time("time", self.time)


#: Kinds of gradual transition: into a flat colour, out of one, or a blend of two shots.
TRANSITION_KINDS = ("fade_out", "fade_in", "dissolve")


@dataclass(frozen=True)
class Transition:
    """A gradual transition between two shots: ``start`` and ``end`` are the times of its first
    and last frame (frames that are a blend of the shot before and the shot after).

    ``kind`` is ``fade_out`` (into a flat colour: black, white, any), ``fade_in`` (out of one) or
    ``dissolve``; ``colour`` names the flat frame of a fade (``black``, ``white`` or ``colour``,
    empty for a dissolve); ``strength`` is the difference between the frames on either side (the
    cut detector's 0..255 score scale).
    """

    kind: str
    start: float
    end: float
    start_pts: int
    end_pts: int
    strength: float
    colour: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TRANSITION_KINDS:
            raise ValueError(f"transition kind must be one of {TRANSITION_KINDS}, got {self.kind!r}")
        _check_time("start", self.start)
        _check_time("end", self.end)
        if self.end < self.start or self.end_pts < self.start_pts:
            raise ValueError(f"transition ends ({self.end}) before it starts ({self.start})")

    @property
    def middle(self) -> float:
        """The honest boundary between the two shots: the transition's midpoint."""
        return (self.start + self.end) / 2

    @property
    def half_length(self) -> float:
        """How far the boundary may lie from :attr:`middle` (half the transition)."""
        return (self.end - self.start) / 2


@dataclass(frozen=True)
class Segment:
    """A span of a video where a label is present.

    Boundaries that coincide with a detected cut are exact (uncertainty 0); otherwise the
    true boundary lies within +/- ``*_uncertainty`` seconds (half the sampling interval).
    """

    label: str  # taxonomy category id (e.g. "sports/football") or free-text prompt
    start: float
    end: float
    score: float  # mean or peak confidence in [0, 1] (see indexer.labels.segments)
    start_uncertainty: float = 0.0
    end_uncertainty: float = 0.0
    source: str = "auto"  # "auto" (model) or "curator" (a person)

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("segment label must not be empty")
        _check_time("start", self.start)
        _check_time("end", self.end)
        if self.end < self.start:
            raise ValueError(f"segment end {self.end} is before start {self.start}")
        _check_time("start_uncertainty", self.start_uncertainty)
        _check_time("end_uncertainty", self.end_uncertainty)
        if self.source not in ("auto", "curator"):
            raise ValueError(f"segment source must be 'auto' or 'curator', got {self.source!r}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, object]:
        """JSON-able form: every field, plus the boundaries as ``HH:MM:SS.mmm``."""
        return {"label": self.label, "start": self.start, "end": self.end,
                "start_hms": format_timestamp(self.start), "end_hms": format_timestamp(self.end),
                "score": self.score, "start_uncertainty": self.start_uncertainty,
                "end_uncertainty": self.end_uncertainty, "source": self.source}


def _check_span(owner: str, text: str, start: float, end: float, score: float) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{owner} text must be a non-empty string, got {text!r}")
    _check_time("start", start)
    _check_time("end", end)
    if end < start:
        raise ValueError(f"{owner} end {end} is before start {start}")
    if not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise ValueError(f"{owner} confidence must be in [0, 1], got {score!r}")


@dataclass(frozen=True)
class TextSpan:
    """A line of on-screen text (OCR) and the time span it is visible, ``[start, end)``.

    ``box`` is (x0, y0, x1, y1) as fractions of the displayed frame, where it was first read.
    """

    text: str
    start: float
    end: float
    confidence: float  # recognition confidence of the best read, 0..1
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        _check_span("text span", self.text, self.start, self.end, self.confidence)
        x0, y0, x1, y1 = self.box
        if not 0 <= x0 <= x1 <= 1 or not 0 <= y0 <= y1 <= 1:
            raise ValueError(f"text box must be fractions x0 <= x1, y0 <= y1 in [0, 1], got {self.box!r}")


@dataclass(frozen=True)
class SpokenWord:
    """One word of a transcript with its time span (seconds from the stream start)."""

    word: str
    start: float
    end: float
    probability: float

    def __post_init__(self) -> None:
        _check_span("spoken word", self.word, self.start, self.end, self.probability)


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of speech (a sentence or so) with its words."""

    text: str
    start: float
    end: float
    words: tuple[SpokenWord, ...] = ()

    def __post_init__(self) -> None:
        _check_span("speech segment", self.text, self.start, self.end, 1.0)


@dataclass(frozen=True)
class Speech:
    """What speech recognition made of a video: its segments, or a note saying why there are none."""

    segments: tuple[SpeechSegment, ...] = ()
    note: str = ""  # e.g. "no audio track", "the ASR model is not installed"
    model: str = ""

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.segments)
