"""On-screen text while indexing: OCR spent where text can have changed, reads merged into spans.

:class:`OnScreenText` is an extractor (:mod:`indexer.pipeline.extractors`) that sees every sampled
frame (``picture_width`` asks the scanner for the whole frame, also where the change gate spares
the image encoder). The text detector costs tens of ms a frame and the recogniser tens of ms a
line, so they are spent:

1. on the first sampled frame of the video and of every shot (a cut can change everything): the
   detector on the whole frame, the recogniser on every box it finds;
2. within a shot only where the picture changed (:class:`TextChangeGate`): a 96x54 grey
   thumbnail is compared with the one of the last look (free). Where cells moved, the detector
   looks at just that region (grown to cover the boxes it touches, plus a margin), and the
   recogniser reads only the boxes that are new there, or whose pixels changed; a box of the
   last look still found with unchanged pixels keeps its line, one no longer found ends it.

Frames with no change repeat the last look. A line read in consecutive looks (the same text,
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

from indexer.models.ocr import Box, LineMemory, ReadLine, TextReader, load_reader
from indexer.types import SampledFrame, TextSpan, VideoInfo

log = logging.getLogger(__name__)

#: Width of the frames OCR reads (pixels; smaller videos are read at their own size).
PICTURE_WIDTH = 960
#: Grey thumbnail (columns, rows) of the free pixel-change signal.
GREY_GRID = (96, 54)
#: A thumbnail cell whose grey level moved by more than this sends its region to the detector.
PIXEL_CHANGE = 12.0
#: Thumbnail cells around the changed ones that the detector sees too (context for its edges).
REGION_MARGIN = 3
#: A detected box overlapping a box of the last look by less than this (IoU) is another box.
BOX_MATCH = 0.5
#: Two reads of one line with at least this similarity (difflib ratio) are the same line.
SAME_LINE = 0.85


@dataclass(frozen=True)
class TextTrack:
    """What OCR found in one video, and what it cost (for the benchmark and the index line)."""

    spans: tuple[TextSpan, ...]
    frames: int = 0  # sampled frames seen
    detections: int = 0  # whole frames the detector looked at (shot starts; every frame ungated)
    region_detections: int = 0  # changed regions the detector looked at
    reads: int = 0  # frames on which the recogniser ran
    recognitions: int = 0  # boxes recognised
    remembered: int = 0  # of those, lines read before, unchanged (not recognised again)
    seconds: float = 0.0  # wall time spent in OCR


def grey_thumbnail(picture: np.ndarray) -> np.ndarray:
    """(rows, cols) float32 grey means of the picture (RGB uint8) over :data:`GREY_GRID` cells."""
    import cv2  # a dependency of the OCR models this signal serves

    cells = cv2.resize(picture, GREY_GRID, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cells[..., 0] * 0.299 + cells[..., 1] * 0.587 + cells[..., 2] * 0.114


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


def _overlaps(region: Box, box: np.ndarray) -> bool:
    return region[0] < box[2] and box[0] < region[2] and region[1] < box[3] and box[1] < region[3]


def changed_region(moved: np.ndarray, boxes: list[np.ndarray]) -> Box | None:
    """The part of the frame (fractions) the detector must see again: the bounding box of the
    ``moved`` thumbnail cells plus :data:`REGION_MARGIN` cells, grown until every box of the last
    look is wholly inside it or outside it. None when nothing moved."""
    rows, cols = np.nonzero(moved)
    if not len(rows):
        return None
    grid_cols, grid_rows = GREY_GRID
    region = (max(0, cols.min() - REGION_MARGIN) / grid_cols, max(0, rows.min() - REGION_MARGIN) / grid_rows,
              min(grid_cols, cols.max() + 1 + REGION_MARGIN) / grid_cols,
              min(grid_rows, rows.max() + 1 + REGION_MARGIN) / grid_rows)
    grown = True
    while grown:
        grown = False
        for box in boxes:
            if _overlaps(region, box) and not (region[0] <= box[0] and region[1] <= box[1]
                                               and box[2] <= region[2] and box[3] <= region[3]):
                region = (min(region[0], box[0]), min(region[1], box[1]), max(region[2], box[2]),
                          max(region[3], box[3]))
                grown = True
    return tuple(float(v) for v in region)


@dataclass
class TextChangeGate:
    """Which thumbnail cells of a frame moved since the last look (all of them when disabled)."""

    enabled: bool = True
    _grey: np.ndarray | None = field(default=None, repr=False)

    def moved(self, picture: np.ndarray) -> np.ndarray | None:
        """Boolean (rows, cols) cells that changed since :meth:`looked`; None: look at everything."""
        if not self.enabled or self._grey is None:
            return None
        return np.abs(grey_thumbnail(picture) - self._grey) > PIXEL_CHANGE

    def looked(self, picture: np.ndarray) -> None:
        """Make ``picture`` the reference of the next comparisons."""
        if self.enabled:
            self._grey = grey_thumbnail(picture)


@dataclass
class _Seen:
    """A box of the last look and its line (None: the detector's box held no legible text)."""

    box: np.ndarray
    line: ReadLine | None


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
        self.gate = TextChangeGate(enabled=gate)
        self.seen: list[_Seen] = []
        self.memory = LineMemory()
        self.spans: list[TextSpan] = []
        self.open: list[_Open] = []
        self.frames = self.detections = self.region_detections = self.reads = self.recognitions = 0
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
        moved = None if first or frame.shot_start else self.gate.moved(frame.picture)
        if moved is None or moved.any():
            self._look(frame.picture, moved)
            self._observe(frame.time)
        self.seconds += time.perf_counter() - started

    def finish(self) -> TextTrack:
        end = max(self.duration, self.last_time)
        self._close(self.open, end)
        self.open = []
        spans = tuple(sorted(self.spans, key=lambda s: (s.start, s.box[1], s.box[0], s.text)))
        log.debug("on-screen text: %d spans; %d frames, %d whole and %d region detections, %d boxes "
                  "recognised on %d frames (%d remembered), %.2f s", len(spans), self.frames, self.detections,
                  self.region_detections, self.recognitions, self.reads, self.memory.hits, self.seconds)
        return TextTrack(spans, self.frames, self.detections, self.region_detections, self.reads,
                         self.recognitions, self.memory.hits, self.seconds)

    def _look(self, picture: np.ndarray, moved: np.ndarray | None) -> None:
        """Detect where ``moved`` says (everywhere when None); recognise only what is new there."""
        region = None if moved is None else changed_region(moved, [s.box for s in self.seen])
        boxes = self.reader.detect(picture, region)
        if region is None:
            self.detections += 1
        else:
            self.region_detections += 1
        kept = [s for s in self.seen if region is not None and not _overlaps(region, s.box)]
        candidates = [s for s in self.seen if region is not None and _overlaps(region, s.box)
                      and not (moved & layout_mask(s.box, inner=True)).any()]
        fresh = []
        for box in boxes:
            iou = box_iou(box, [s.box for s in candidates])[0] if candidates else np.zeros(0)
            if len(iou) and iou.max() >= BOX_MATCH:
                kept.append(candidates.pop(int(iou.argmax())))  # the same box, its pixels unchanged
            else:
                fresh.append(box)
        boxes = np.array(fresh, np.float32).reshape(-1, 4)
        lines = self.reader.recognise(picture, boxes, self.memory) if fresh else []
        self.reads += bool(fresh)
        self.recognitions += len(fresh)
        self.seen = kept + [_Seen(np.asarray(box), line) for box, line in zip(fresh, lines)]
        self.gate.looked(picture)

    def _observe(self, time_: float) -> None:
        """Continue the open spans whose line is still seen, close the others, open new ones."""
        still: list[_Open] = []
        for line in (s.line for s in self.seen if s.line is not None):
            key = line_key(line.text)
            match = next((o for o in self.open if _same_line(o.key, key)), None)
            if match is not None:
                self.open.remove(match)
                if line.confidence > match.confidence:
                    match.text, match.key, match.confidence = line.text, key, line.confidence
                still.append(match)
            elif not any(o.key == key for o in still):
                still.append(_Open(key, line.text, time_, line.confidence, line.box))
        self._close(self.open, time_)
        self.open = still

    def _close(self, lines: list[_Open], end: float) -> None:
        for line in lines:
            self.spans.append(TextSpan(line.text, line.start, max(end, line.start), line.confidence, line.box))


def _same_line(a: str, b: str) -> bool:
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= SAME_LINE
