"""On-screen text models: the PP-OCR text detector and recogniser that ship in RapidOCR's wheel,
run directly on onnxruntime with one intra-op thread each.

Two entry points with two costs, used by :mod:`indexer.words.onscreen`:

- :meth:`TextReader.detect` runs the text *detector* on a frame scaled so its long side is
  :data:`DETECT_SIDE` pixels, or on just a region of it at that scale (the part of a frame
  that changed): boxes where text is likely. About 20 ms for a whole 320x180 frame on one core,
  a few ms for a region.
- :meth:`TextReader.recognise` runs the *recogniser* on given boxes, each cropped from the frame
  at full reading size and scaled to the model's 48 px line height (20-40 ms a line).

Why not RapidOCR's own pipeline: on two shared cores its sessions (all cores, spinning thread
pool, no memory arena) ran the same models 2-3x slower than one thread per session, and its
per-call preparation (config look-ups, the whole-frame resize) cost more than the detector on
a region. Only the models and their character set are taken from it; preparing inputs and
turning the detector's probability map into boxes (DB post-processing, axis-aligned boxes:
on-screen text lines are horizontal) and the recogniser's output into text (CTC greedy
decoding) is done here.

Nothing downloads: ``rapidocr`` ships its models in the wheel (run with ``onnxruntime``, resized
with OpenCV, both RapidOCR dependencies). They are optional (``pip install 'reelsearch[words]'``);
without them :func:`load_reader` raises :class:`~indexer.errors.ModelUnavailableError`.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import ModelUnavailableError
from indexer.models.onnx_session import onnx_session

log = logging.getLogger(__name__)

#: Long side (pixels) of the frame as the text detector sees it.
DETECT_SIDE = 320
#: The recogniser's line height (pixels; fixed by the model).
LINE_HEIGHT = 48
#: A detector pixel with a text probability above this belongs to a text region.
PIXEL_TEXT = 0.3
#: A text region whose mean probability is below this is dropped.
BOX_TEXT = 0.5
#: Regions are grown by area x this / perimeter on every side (DB's "unclip": the detector
#: marks the shrunk core of a line).
UNCLIP = 1.6
#: Lines recognised with less confidence than this are dropped.
MIN_CONFIDENCE = 0.6
#: Lines with fewer letters or digits than this are dropped: single glyphs are mostly shapes
#: read as text (a disc read as "O").
MIN_CHARS = 2
#: A line image is one recognised before when at most :data:`LINE_CHANGED` of its pixel values
#: differ from that one's by more than :data:`LINE_PIXEL` grey levels (video noise stays below;
#: one changed character of a 40-character line is about 1 % of the values).
LINE_PIXEL = 40
LINE_CHANGED = 0.002
#: onnxruntime intra-op threads per model: one thread beat the whole 2-core pool on a machine
#: the image encoder and the decoder share (a pool waits for its slowest thread).
THREADS = 1

INSTALL_HINT = "pip install 'reelsearch[words]' (rapidocr and onnxruntime)"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ReadLine:
    """One recognised line: text, confidence 0..1 and box (x0, y0, x1, y1) as frame fractions."""

    text: str
    confidence: float
    box: Box


class LineMemory:
    """The line images recognised last and what they read, so a line seen again unchanged (a
    banner across a cut, a caption on every frame read without the gate) is not recognised twice.
    One per video: :meth:`TextReader.recognise` consults and fills it."""

    def __init__(self, size: int = 16) -> None:
        self._items: deque[tuple[np.ndarray, tuple[str, float]]] = deque(maxlen=size)
        self.hits = 0

    def recall(self, image: np.ndarray) -> tuple[str, float] | None:
        """What an earlier line image of the same size and (nearly) the same pixels read, or None."""
        for seen, result in reversed(self._items):
            if seen.shape == image.shape and np.mean(np.abs(seen.astype(np.int16) - image) > LINE_PIXEL) <= LINE_CHANGED:
                self.hits += 1
                return result
        return None

    def remember(self, image: np.ndarray, result: tuple[str, float]) -> None:
        self._items.append((image, result))


class TextReader:
    """The PP-OCR detector and recogniser on onnxruntime (see the module docstring)."""

    def __init__(self, detector: Path, recogniser: Path, threads: int = THREADS) -> None:
        self._detector = onnx_session(detector, threads)
        self._recogniser = onnx_session(recogniser, threads)
        self._characters = characters_of(self._recogniser, recogniser)
        self.recogniser = recogniser

    def detect(self, picture: np.ndarray, region: Box | None = None) -> np.ndarray:
        """Boxes (N, 4) x0, y0, x1, y1 where text is likely, as fractions of ``picture`` (RGB uint8).

        ``region`` (fractions) restricts the look to that part of the frame, seen at the same
        scale as the whole frame (a text line cut by the region's edge may be missed).
        """
        height, width = picture.shape[:2]
        x0, y0, x1, y1 = _pixels(region or (0.0, 0.0, 1.0, 1.0), width, height)
        scale = min(1.0, DETECT_SIDE / max(width, height))
        crop = picture[y0:y1, x0:x1]
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        small = _cv2().resize(crop, size, interpolation=_cv2().INTER_AREA)
        pad_y, pad_x = -small.shape[0] % 32, -small.shape[1] % 32
        if pad_y or pad_x:  # the network wants multiples of 32; repeat the edge, draw no new edges
            small = _cv2().copyMakeBorder(small, 0, pad_y, 0, pad_x, _cv2().BORDER_REPLICATE)
        probability = self._run(self._detector, normalised(small))[0, 0][: size[1], : size[0]]
        boxes = _text_boxes(probability) / scale + np.array([x0, y0, x0, y0], np.float32)
        return np.clip(boxes / np.array([width, height, width, height], np.float32), 0.0, 1.0)

    def recognise(self, picture: np.ndarray, boxes: np.ndarray, memory: LineMemory | None = None,
                  ) -> list[ReadLine | None]:
        """The line in each box (fractions) of ``picture``, in the boxes' order: None where no
        line with confidence >= :data:`MIN_CONFIDENCE` and at least :data:`MIN_CHARS` letters
        or digits was read. Lines ``memory`` recalls are not recognised again."""
        height, width = picture.shape[:2]
        lines: list[ReadLine | None] = []
        for box in np.asarray(boxes, np.float64).reshape(-1, 4):
            x0, y0, x1, y1 = _pixels(tuple(box), width, height)
            image = line_image(picture[y0:y1, x0:x1])
            read = memory.recall(image) if memory is not None and image is not None else None
            if read is None:
                read = self._read_line(image) if image is not None else ("", 0.0)
                if memory is not None and image is not None:
                    memory.remember(image, read)
            text, score = read
            legible = score >= MIN_CONFIDENCE and sum(ch.isalnum() for ch in text) >= MIN_CHARS
            lines.append(ReadLine(text, min(max(score, 0.0), 1.0), tuple(float(v) for v in box))
                         if legible else None)
        return lines

    def read(self, picture: np.ndarray) -> list[ReadLine]:
        """Every legible text line in ``picture`` (RGB uint8): :meth:`detect`, then :meth:`recognise`."""
        return [line for line in self.recognise(picture, self.detect(picture)) if line is not None]

    def _read_line(self, image: np.ndarray) -> tuple[str, float]:
        return read_line(self._recogniser, self._characters, image)

    @staticmethod
    def _run(session: Any, batch: np.ndarray) -> np.ndarray:
        return session.run(None, {session.get_inputs()[0].name: batch})[0]


def read_line(session: Any, characters: list[str], image: np.ndarray) -> tuple[str, float]:
    """Greedy CTC decoding of one line image (:func:`line_image`) by a recogniser session:
    (text, mean probability of its characters)."""
    probabilities = TextReader._run(session, normalised(image))[0]  # (steps, characters)
    best, score = probabilities.argmax(axis=1), probabilities.max(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]  # a repeated symbol is one character unless a blank splits it
    text = "".join(characters[i] for i in best[keep] if i < len(characters))
    return " ".join(text.split()), float(score[keep].mean()) if keep.any() else 0.0


def characters_of(session: Any, path: Path) -> list[str]:
    """The CTC symbols of a PP-OCR recogniser, from its metadata: blank first, space last."""
    characters = session.get_modelmeta().custom_metadata_map.get("character")
    if not characters:
        raise ModelUnavailableError(f"the text recogniser {path} carries no character set")
    return ["", *characters.splitlines(), " "]


def _pixels(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """Fractions -> pixel bounds (x0, y0, x1, y1), at least one pixel each way."""
    x0, y0, x1, y1 = box
    px0, py0 = min(int(x0 * width), width - 1), min(int(y0 * height), height - 1)
    return (px0, py0, max(math.ceil(x1 * width), px0 + 1), max(math.ceil(y1 * height), py0 + 1))


def line_image(crop: np.ndarray) -> np.ndarray | None:
    """A line crop scaled to the recogniser's :data:`LINE_HEIGHT` (None if it is too small)."""
    if crop.shape[0] < 2 or crop.shape[1] < 2:
        return None
    width = max(LINE_HEIGHT // 4, math.ceil(LINE_HEIGHT * crop.shape[1] / crop.shape[0]))
    return _cv2().resize(crop, (width, LINE_HEIGHT), interpolation=_cv2().INTER_LINEAR)


def normalised(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> the models' input: BGR, scaled to [-1, 1], (1, 3, H, W) float32."""
    return (rgb[..., ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None].copy()


def _text_boxes(probability: np.ndarray) -> np.ndarray:
    """DB post-processing, axis-aligned: (N, 4) float32 boxes (pixels of the probability map)."""
    cv2 = _cv2()
    mask = cv2.dilate((probability > PIXEL_TEXT).astype(np.uint8), np.ones((2, 2), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        if min(w, h) < 3:
            continue
        inside = labels[y:y + h, x:x + w] == label
        if probability[y:y + h, x:x + w][inside].mean() < BOX_TEXT:
            continue
        grow = w * h * UNCLIP / (2 * (w + h))
        boxes.append((x - grow, y - grow, x + w + grow, y + h + grow))
    return np.array(boxes, np.float32).reshape(-1, 4)


def _cv2() -> Any:
    import cv2

    return cv2


def model_files() -> tuple[Path, Path]:
    """The detector and recogniser ONNX files in RapidOCR's wheel (the newest version of each).

    Raises ModelUnavailableError when rapidocr, onnxruntime or OpenCV is missing, or the wheel
    holds no models.
    """
    try:
        import cv2  # noqa: F401  (resizing; a rapidocr dependency)
        import onnxruntime  # noqa: F401  (runs the models; declared explicitly)
        import rapidocr
    except ImportError as exc:
        raise ModelUnavailableError(f"on-screen text needs RapidOCR ({exc.name} is not installed): "
                                    f"{INSTALL_HINT}") from None
    folder = Path(rapidocr.__file__).parent / "models"
    found = [sorted(folder.glob(f"*_{task}_*.onnx")) for task in ("det", "rec")]
    if not all(found):
        raise ModelUnavailableError(f"no PP-OCR detector and recogniser in {folder}: reinstall rapidocr")
    return found[0][-1], found[1][-1]


def load_reader(threads: int = THREADS, precision: str | None = None) -> TextReader:
    """A :class:`TextReader`; raises ModelUnavailableError when the models cannot be loaded.

    ``precision`` (else ``$REELSEARCH_OCR_PRECISION``, else ``auto``): ``auto`` reads lines with
    the int8 copy of the recogniser where :mod:`indexer.models.ocr_int8` found it faster here and
    reading alike (made once, kept in the user's cache), ``fp32`` with the model as shipped.
    """
    from indexer.models import ocr_int8

    detector, recogniser = model_files()
    precision = precision or os.environ.get(ocr_int8.PRECISION_ENV) or "auto"
    if precision not in ("auto", "fp32"):
        raise ModelUnavailableError(f"the text recogniser's precision ({ocr_int8.PRECISION_ENV}) must be "
                                    f"auto or fp32, got {precision!r}")
    if precision == "auto":
        sessions: dict[Path, Any] = {}
        shipped = recogniser
        characters: list[str] = []  # the shipped model's, read once

        def read_with(model: Path, crop: np.ndarray) -> tuple[str, float]:
            for path in (shipped, model):
                if path not in sessions:
                    sessions[path] = onnx_session(path, threads)
            if not characters:
                characters.extend(characters_of(sessions[shipped], shipped))
            return read_line(sessions[model], characters, line_image(crop))

        made = ocr_int8.int8_recogniser(recogniser, read_with, lambda crop: normalised(line_image(crop)))
        if made is not None and made[1].used:
            recogniser = made[0]
    log.debug("text models: %s, %s", detector.name, recogniser.name)
    return TextReader(detector, recogniser, threads)
