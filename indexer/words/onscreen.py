"""On-screen text while indexing: OCR spent where text can have changed, reads merged into spans.

:class:`OnScreenText` is an extractor (:mod:`indexer.pipeline.extractors`) that sees every sampled
frame (``picture_width`` asks the scanner for the whole frame, also where the change gate spares
the image encoder). Reading a frame (:meth:`~indexer.models.ocr.TextReader.read`: detection +
recognition) costs a second or more, so it is spent:

1. on the first sampled frame of the video and of every shot (a cut can change everything), and
2. within a shot only when a cheap text-likelihood signal changes (:class:`TextChangeGate`): a
   96x54 grey thumbnail is compared with the one of the last look (free); where it moved, the
   text detector alone runs on the frame downscaled to 320 px (tens of ms), and the frame is read
   only when a line of the last look went away or its pixels changed, or when recognising just
   the boxes the detector sees anew (tens of ms a box) finds text in them.

Frames that are not read repeat the last read. A line read in consecutive reads (the same text,
case and spacing aside, or a near-identical read) is one :class:`~indexer.types.TextSpan` from the
frame it was first read on to the first sampled frame without it: both ends lie within one
sampling interval of the truth, and exactly on the cut where a cut ends or starts it.
"""

from __future__ import annotations

import difflib
import functools
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from indexer.models.ocr import TextReader, load_reader
from indexer.types import SampledFrame, TextSpan, VideoInfo

log = logging.getLogger(__name__)

#: Width of the frames OCR reads (pixels; smaller videos are read at their own size).
PICTURE_WIDTH = 960
#: Grey thumbnail (columns, rows) of the free pixel-change signal.
GREY_GRID = (96, 54)
#: A thumbnail cell whose grey level moved by more than this sends the frame to the detector.
PIXEL_CHANGE = 12.0
#: A detected box overlapping a box of the last look by less than this (IoU) is another box.
BOX_MATCH = 0.5
#: Two reads of one line with at least this similarity (difflib ratio) are the same line.
SAME_LINE = 0.85


@dataclass(frozen=True)
class TextTrack:
    """What OCR found in one video, and what it cost (for the benchmark and the index line)."""

    spans: tuple[TextSpan, ...]
    frames: int = 0  # sampled frames seen
    detections: int = 0  # frames the detector looked at (the cheap signal)
    reads: int = 0  # frames read (detection + recognition)
    seconds: float = 0.0  # wall time spent in OCR models
    verifications: int = 0  # frames whose new boxes were recognised (no detection)


def grey_thumbnail(picture: np.ndarray) -> np.ndarray:
    """(rows, cols) float32 grey means of the picture over a :data:`GREY_GRID` of cells."""
    cols, rows = GREY_GRID
    h, w = picture.shape[:2]
    ys = (np.arange(rows + 1) * h) // rows
    xs = (np.arange(cols + 1) * w) // cols
    grey = picture[..., 0] * 0.299 + picture[..., 1] * 0.587 + picture[..., 2] * 0.114
    sums = np.add.reduceat(np.add.reduceat(grey, ys[:-1], axis=0), xs[:-1], axis=1)
    area = np.outer(np.diff(ys), np.diff(xs))
    return (sums / area).astype(np.float32)


def layout_mask(boxes: np.ndarray, inner: bool = False) -> np.ndarray:
    """Boolean (rows, cols) mask over :data:`GREY_GRID` of the cells the boxes (fractions) touch,
    or with ``inner`` only the cells wholly inside them."""
    cols, rows = GREY_GRID
    mask = np.zeros((rows, cols), bool)
    for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4):
        if inner:
            mask[int(np.ceil(y0 * rows)): int(y1 * rows), int(np.ceil(x0 * cols)): int(x1 * cols)] = True
        else:
            mask[int(y0 * rows): max(int(np.ceil(y1 * rows)), int(y0 * rows) + 1),
                 int(x0 * cols): max(int(np.ceil(x1 * cols)), int(x0 * cols) + 1)] = True
    return mask


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of boxes (x0, y0, x1, y1)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


SAME, VERIFY, READ = "same", "verify", "read"


@dataclass
class TextChangeGate:
    """Decides, per sampled frame of a shot, whether the text on screen may have changed.

    :meth:`check` answers ``SAME`` (repeat the last read), ``READ`` (a box of the last look went
    away or the pixels inside one changed) or ``VERIFY`` with the boxes the detector sees anew
    (a caption appearing, or a moving object the detector takes for text: recognising just those
    boxes tells which, at a fraction of a read's cost).
    """

    detect: object  # callable picture -> boxes (TextReader.detect)
    enabled: bool = True
    detections: int = 0
    _grey: np.ndarray | None = field(default=None, repr=False)
    _boxes: np.ndarray | None = field(default=None, repr=False)

    def looked(self, picture: np.ndarray, boxes: np.ndarray) -> None:
        """Remember a frame that was just read (its detected ``boxes``) as the reference."""
        self._grey = grey_thumbnail(picture)
        self._boxes = boxes if self.enabled else None

    def accept(self, picture: np.ndarray) -> None:
        """The boxes to verify held no text: follow the picture, keep the reference text."""
        self._grey = grey_thumbnail(picture)

    def check(self, picture: np.ndarray) -> tuple[str, np.ndarray]:
        """``(SAME | VERIFY | READ, boxes to verify)`` for a frame of the current shot."""
        none = np.zeros((0, 4), np.float32)
        if not self.enabled or self._grey is None or self._boxes is None:
            return READ, none
        grey = grey_thumbnail(picture)
        moved = np.abs(grey - self._grey) > PIXEL_CHANGE
        if not moved.any():
            return SAME, none
        boxes = self.boxes(picture)
        iou = box_iou(boxes, self._boxes)
        if len(self._boxes) and (not len(boxes) or (iou.max(axis=0) < BOX_MATCH).any()):
            return READ, none  # a line went away or moved
        if (moved & layout_mask(self._boxes, inner=True)).any():
            return READ, none  # the pixels of a line changed
        new = boxes[iou.max(axis=1) < BOX_MATCH] if len(self._boxes) else boxes
        if len(new):
            return VERIFY, new
        self._grey = grey  # the same text over a moving picture: follow the picture
        return SAME, none

    def boxes(self, picture: np.ndarray) -> np.ndarray:
        """The detector's boxes for ``picture`` (counted in :attr:`detections`)."""
        self.detections += 1
        return self.detect(picture)


@dataclass
class _Open:
    key: str
    text: str
    start: float
    confidence: float
    box: tuple[float, float, float, float]


def line_key(text: str) -> str:
    """How reads of one line are compared: case and spacing ignored."""
    return " ".join(text.casefold().split())


@functools.lru_cache(maxsize=1)
def shared_reader() -> TextReader:
    """The process's one OCR reader (loaded on first use). Raises ModelUnavailableError."""
    return load_reader()


class OnScreenText:
    """The on-screen text extractor; ``finish()`` returns a :class:`TextTrack`."""

    picture_width = PICTURE_WIDTH

    def __init__(self, reader: TextReader | None = None, gate: bool = True) -> None:
        self.reader = reader if reader is not None else shared_reader()
        self.gate = TextChangeGate(self.reader.detect, enabled=gate)
        self.spans: list[TextSpan] = []
        self.open: list[_Open] = []
        self.frames = self.reads = self.verifications = 0
        self.seconds = 0.0
        self.last_time = 0.0
        self.duration = 0.0

    def start(self, info: VideoInfo) -> None:
        self.duration = info.duration

    def frame(self, frame: SampledFrame) -> None:
        if frame.picture is None:
            raise ValueError("OnScreenText needs frame.picture (set picture_width on the extractor)")
        started = time.perf_counter()
        first = self.frames == 0
        self.frames += 1
        self.last_time = frame.time
        if first or frame.shot_start:
            self._read(frame)
        else:
            decision, boxes = self.gate.check(frame.picture)
            if decision == VERIFY:
                self.verifications += 1
                decision = READ if self.reader.recognise(frame.picture, boxes) else SAME
                if decision == SAME:
                    self.gate.accept(frame.picture)
            if decision == READ:
                self._read(frame)
        self.seconds += time.perf_counter() - started

    def finish(self) -> TextTrack:
        end = max(self.duration, self.last_time)
        self._close(self.open, end)
        self.open = []
        spans = tuple(sorted(self.spans, key=lambda s: (s.start, s.box[1], s.box[0], s.text)))
        log.debug("on-screen text: %d spans, %d of %d frames read, %d detections, %.2f s", len(spans),
                  self.reads, self.frames, self.gate.detections, self.seconds)
        return TextTrack(spans, self.frames, self.gate.detections, self.reads, self.seconds, self.verifications)

    def _read(self, frame: SampledFrame) -> None:
        self.reads += 1
        boxes = self.gate.boxes(frame.picture)
        lines = self.reader.recognise(frame.picture, boxes)
        self.gate.looked(frame.picture, boxes)
        still: list[_Open] = []
        for line in lines:
            key = line_key(line.text)
            match = next((o for o in self.open if _same_line(o.key, key)), None)
            if match is not None:
                self.open.remove(match)
                if line.confidence > match.confidence:
                    match.text, match.key, match.confidence = line.text, key, line.confidence
                still.append(match)
            elif not any(o.key == key for o in still):
                still.append(_Open(key, line.text, frame.time, line.confidence, line.box))
        self._close(self.open, frame.time)
        self.open = still

    def _close(self, lines: list[_Open], end: float) -> None:
        for line in lines:
            self.spans.append(TextSpan(line.text, line.start, max(end, line.start), line.confidence, line.box))


def _same_line(a: str, b: str) -> bool:
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= SAME_LINE
