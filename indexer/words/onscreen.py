"""On-screen text while indexing: OCR spent where text can have changed, reads merged into spans.

:class:`OnScreenText` is an extractor (:mod:`indexer.pipeline.extractors`) that sees every sampled
frame (``picture_width`` asks the scanner for the whole frame, also where the change gate spares
the image encoder). The text detector costs tens of ms a frame and the recogniser tens of ms a
line, so they are spent:

1. on the first sampled frame of the video and of every shot (a cut can change everything): the
   detector over the part of the frame with text-like strokes (:func:`text_cells`; not at all
   when there are none), the recogniser on every box it finds;
2. within a shot only where the picture changed *and* could hold text (:class:`TextChangeGate`):
   a 96x54 grey thumbnail is compared with the one of the last look (free), and the cells that
   moved are checked for text-like strokes (:func:`text_cells`, about 1 ms). A disc
   drifting over a plain background, a pan over sky or skin moves pixels but draws no strokes,
   so the detector is not run for it. Where moved cells have text-like strokes now or had them at
   the last look, or lie on a line read before, the detector looks at just that region (grown
   to cover the boxes it touches, plus a margin), and the recogniser reads only the boxes that
   are new there, or whose pixels changed; a box of the last look still found with unchanged
   pixels keeps its line, one no longer found ends it.

Frames with no change repeat the last look. A line read in consecutive looks (the same text,
case and spacing aside, or a near-identical read) is one :class:`~indexer.types.TextSpan` from the
frame it was first read on to the first sampled frame without it: both ends lie within one
sampling interval of the truth, and exactly on the cut where a cut ends or starts it.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from indexer.models.ocr import Box, LineMemory, ReadLine, TextReader, load_reader
from indexer.media.thumbnails import upright
from indexer.types import Picture, SampledFrame, TextSpan, VideoInfo

log = logging.getLogger(__name__)

#: Width of the frames OCR reads (pixels; smaller videos are read at their own size).
PICTURE_WIDTH = 960
#: Grey thumbnail (columns, rows) of the free pixel-change signal.
GREY_GRID = (96, 54)
#: A thumbnail cell whose grey level moved by more than this sends its region to the detector.
PIXEL_CHANGE = 12.0
#: Width (pixels) of the grey picture on which strokes are counted (cells of :data:`GREY_GRID` are
#: 5x5 pixels there); :func:`text_cells` also looks at a quarter of it, for large type.
TEXTURE_WIDTH = 480
#: A grey step between neighbouring pixels (left to right) larger than this starts or ends a stroke.
TEXT_STEP = 16
#: Windows (pixels wide, 3 rows high) in which strokes are counted: at :data:`TEXTURE_WIDTH`, and
#: at a quarter of it for large type (over about a tenth of the frame's height).
TEXT_WINDOWS = (15, 13)
#: A pixel is text-like where a row of the window around it crosses at least this many strokes
#: (a rise and a fall each), at either scale. Type of 14 to 300 px on a 1280x720 frame measures
#: 2-5 (light on light or grey on white too); a disc's or block's outline 0-0.7, a lone line 1.
TEXT_STROKES = 2.0
#: Cells beyond the asked ones that :func:`text_cells` reads, so windows at their edge are whole.
TEXT_MARGIN = 6
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
    spared: int = 0  # frames whose change drew or removed no text-like strokes (no detector run)


def picture_rgb(picture: Picture) -> np.ndarray:
    """The picture as displayed, RGB uint8 (colour-converted from its planes when it has them)."""
    import cv2  # a dependency of the OCR models this serves

    rgb = picture.rgb if picture.rgb is not None else cv2.cvtColor(picture.yuv, cv2.COLOR_YUV2RGB_I420)
    return upright(rgb, picture.rotation)


def grey_picture(picture: Picture) -> np.ndarray:
    """The picture as displayed in grey (full range), :data:`TEXTURE_WIDTH` pixels wide (uint8):
    from its luma plane when it has planes (no colour conversion)."""
    import cv2

    turned = picture.rotation in (90, 270)
    if picture.yuv is not None:
        source = picture.yuv[: picture.yuv.shape[0] * 2 // 3]  # luma, limited range 16-235
    else:
        source = picture.rgb
    rows, cols = source.shape[:2]
    shown_w, shown_h = (rows, cols) if turned else (cols, rows)
    size = (TEXTURE_WIDTH, max(8, round(shown_h * TEXTURE_WIDTH / shown_w)))
    small = cv2.resize(source, size[::-1] if turned else size, interpolation=cv2.INTER_AREA)
    if picture.yuv is not None:
        grey = cv2.convertScaleAbs(small, alpha=255 / 219, beta=-16 * 255 / 219)
    else:
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return upright(grey, picture.rotation)


def grey_thumbnail(grey: np.ndarray) -> np.ndarray:
    """(rows, cols) float32 grey means of a :func:`grey_picture` over :data:`GREY_GRID` cells."""
    import cv2

    return cv2.resize(grey, GREY_GRID, interpolation=cv2.INTER_AREA).astype(np.float32)


def text_cells(grey: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
    """Boolean (rows, cols) over :data:`GREY_GRID`: the cells of a :func:`grey_picture` with
    text-like strokes (see :data:`TEXT_STROKES`), computed only over ``within`` (a boolean cell
    mask; False elsewhere) or over the whole picture.

    Type is rows of strokes: a line across a word crosses a rise and a fall in grey for every
    stroke, several within the width of two letters, where the outline of a shape is crossed
    once or twice and flat colour never. A cheap likelihood, not a detector: texture (foliage,
    gravel, blinds) is text-like too, and then the detector decides.
    """
    import cv2

    cols, rows = GREY_GRID
    out = np.zeros((rows, cols), bool)
    if within is None:
        r0, r1, c0, c1 = 0, rows, 0, cols
    else:
        r, c = np.nonzero(within)
        if not len(r):
            return out
        r0, r1 = max(0, r.min() - TEXT_MARGIN), min(rows, r.max() + 1 + TEXT_MARGIN)
        c0, c1 = max(0, c.min() - TEXT_MARGIN), min(cols, c.max() + 1 + TEXT_MARGIN)
    height, width = grey.shape
    crop = grey[r0 * height // rows: -(-r1 * height // rows), c0 * width // cols: -(-c1 * width // cols)]
    found = np.zeros((r1 - r0, c1 - c0), bool)
    # masks are uint8 0/255 and counts uint16 sums of them, all in OpenCV (2x faster than numpy)
    least = math.ceil(TEXT_STROKES * 3) * 255 - 1  # a count over 3 rows above this: enough strokes
    for scale, window in zip((1, 4), TEXT_WINDOWS):
        picture = crop if scale == 1 else cv2.resize(
            crop, (max(2, crop.shape[1] // scale), max(1, crop.shape[0] // scale)), interpolation=cv2.INTER_AREA)
        left, right = picture[:, :-1], picture[:, 1:]
        texty = None
        for later, earlier in ((right, left), (left, right)):  # rises, falls: count where each run begins
            edge = cv2.compare(cv2.subtract(later, earlier), TEXT_STEP, cv2.CMP_GT)
            starts = edge.copy()
            starts[:, 1:] = cv2.subtract(edge[:, 1:], edge[:, :-1])
            count = cv2.boxFilter(starts, cv2.CV_16U, (window, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
            enough = cv2.compare(count, least, cv2.CMP_GT)
            texty = enough if texty is None else cv2.bitwise_and(texty, enough)
        found |= cv2.resize(texty, (c1 - c0, r1 - r0), interpolation=cv2.INTER_AREA) > 0
    out[r0:r1, c0:c1] = found
    return out if within is None else out & within


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
    """Which thumbnail cells of a frame moved since the last look (all of them when disabled),
    and which cells had text-like strokes then."""

    enabled: bool = True
    _grey: np.ndarray | None = field(default=None, repr=False)
    _text: np.ndarray | None = field(default=None, repr=False)

    def moved(self, thumbnail: np.ndarray) -> np.ndarray | None:
        """Boolean (rows, cols) cells of a frame's :func:`grey_thumbnail` that changed since the
        last look; None: look at everything."""
        if not self.enabled or self._grey is None:
            return None
        return np.abs(thumbnail - self._grey) > PIXEL_CHANGE

    def text_before(self) -> np.ndarray:
        """The cells that had text-like strokes at the last look (as far as they were checked)."""
        cols, rows = GREY_GRID
        return self._text if self._text is not None else np.zeros((rows, cols), bool)

    def looked(self, thumbnail: np.ndarray, text: np.ndarray | None) -> None:
        """Make the frame (its :func:`grey_thumbnail`) the reference of the next comparisons;
        ``text``: its text-like cells."""
        if self.enabled:
            self._grey = thumbnail
            self._text = text

    def examined(self, thumbnail: np.ndarray, cells: np.ndarray, text: np.ndarray) -> None:
        """``cells`` moved but hold no text-like strokes, now or before: they become the reference
        there (the other cells keep theirs, so slow change elsewhere still adds up)."""
        if self.enabled and self._grey is not None:
            self._grey[cells] = thumbnail[cells]
            self._text = self.text_before() & ~cells | text & cells


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
        self.spared = 0
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
        if not self.gate.enabled:
            self._look(picture_rgb(frame.picture), None, None, None)
            self._observe(frame.time)
        else:
            grey = grey_picture(frame.picture)
            thumbnail = grey_thumbnail(grey)
            moved = None if first or frame.shot_start else self.gate.moved(thumbnail)
            if moved is None:  # a new shot: look wherever there are text-like strokes
                text = text_cells(grey)
                if text.any():
                    self._look(picture_rgb(frame.picture), text, text, thumbnail, whole=True)
                else:  # no strokes anywhere: nothing on screen to read
                    self.spared += 1
                    self.seen = []
                    self.gate.looked(thumbnail, text)
                self._observe(frame.time)
            elif moved.any():
                text = text_cells(grey, moved)
                on_lines = layout_mask([s.box for s in self.seen if s.line is not None])
                wanted = moved & (text | self.gate.text_before() | on_lines)
                if wanted.any():
                    self._look(picture_rgb(frame.picture), wanted, text, thumbnail)
                    self._observe(frame.time)
                else:  # pixels moved, but no strokes came or went: no text can have changed
                    self.spared += 1
                    self.gate.examined(thumbnail, moved, text)
        self.seconds += time.perf_counter() - started

    def finish(self) -> TextTrack:
        end = max(self.duration, self.last_time)
        self._close(self.open, end)
        self.open = []
        spans = tuple(sorted(self.spans, key=lambda s: (s.start, s.box[1], s.box[0], s.text)))
        log.debug("on-screen text: %d spans; %d frames, %d whole and %d region detections (%d changes "
                  "spared), %d boxes recognised on %d frames (%d remembered), %.2f s", len(spans), self.frames,
                  self.detections, self.region_detections, self.spared, self.recognitions, self.reads,
                  self.memory.hits, self.seconds)
        return TextTrack(spans, self.frames, self.detections, self.region_detections, self.reads,
                         self.recognitions, self.memory.hits, self.seconds, self.spared)

    def _look(self, picture: np.ndarray, cells: np.ndarray | None, text: np.ndarray | None,
              thumbnail: np.ndarray | None, whole: bool = False) -> None:
        """Detect over ``cells`` (the whole frame when None); recognise only what is new there.
        ``whole``: a new shot, where nothing of the last look is kept. ``text`` (the text-like
        cells found now) and ``thumbnail`` become the gate's reference."""
        if whole:
            self.seen = []
        region = None if cells is None else changed_region(cells, [s.box for s in self.seen])
        boxes = self.reader.detect(picture, region)
        if region is None or whole:
            self.detections += 1
        else:
            self.region_detections += 1
        inside = [s for s in self.seen if region is None or _overlaps(region, s.box)]
        kept = [s for s in self.seen if region is not None and not _overlaps(region, s.box)]
        candidates = [s for s in inside if cells is not None and not (cells & layout_mask(s.box, inner=True)).any()]
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
        if thumbnail is not None:
            self.gate.looked(thumbnail, text if whole or text is None else self.gate.text_before() & ~cells | text)

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
