"""On-screen text models: RapidOCR's PP-OCR detector and recogniser (ONNX, inside the wheel).

Two entry points with two costs, used by :mod:`indexer.words.onscreen`:

- :meth:`TextReader.detect` runs the text *detector* alone on a frame scaled so its long side is
  :data:`DETECT_SIDE` pixels: a cheap "where could text be" signal (tens of milliseconds).
- :meth:`TextReader.recognise` runs recognition alone on given boxes, cropped from the frame at
  full reading size (a few tens to hundreds of ms a box).
- :meth:`TextReader.read` is both: every line, its confidence and its box. Detecting at 320 px
  and recognising crops of the 960 px frame read the same lines as RapidOCR's own detection at
  640-960 px on the benchmark's cards, in about half the time.

Nothing downloads: ``rapidocr`` ships its models in the wheel (it needs ``onnxruntime``).
Both are optional dependencies (``pip install 'reelsearch[words]'``); without them
:func:`load_reader` raises :class:`~indexer.errors.ModelUnavailableError` with that line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.errors import ModelUnavailableError

log = logging.getLogger(__name__)

#: Long side (pixels) the text detector sees when it only looks for text (the cheap signal).
DETECT_SIDE = 320
#: Lines recognised with less confidence than this are dropped.
MIN_CONFIDENCE = 0.6
#: Lines with fewer letters or digits than this are dropped: single glyphs are mostly shapes
#: read as text (a disc read as "O").
MIN_CHARS = 2

INSTALL_HINT = "pip install 'reelsearch[words]' (rapidocr and onnxruntime)"


@dataclass(frozen=True)
class ReadLine:
    """One recognised line: text, confidence 0..1 and box (x0, y0, x1, y1) as frame fractions."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


def _boxes(quads: Any, width: int, height: int) -> np.ndarray:
    """RapidOCR's (N, 4, 2) corner arrays -> (N, 4) x0, y0, x1, y1 as fractions of the frame."""
    if quads is None or len(quads) == 0:
        return np.zeros((0, 4), np.float32)
    quads = np.asarray(quads, dtype=np.float32).reshape(-1, 4, 2)
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    boxes = np.concatenate([lo, hi], axis=1) / np.array([width, height, width, height], np.float32)
    return np.clip(boxes, 0.0, 1.0)


class TextReader:
    """RapidOCR with a cheap detect-only engine and a full reading engine (both lazy)."""

    def __init__(self, rapidocr_class: Any, threads: int = 0) -> None:
        common = {"Global.log_level": "error", "Global.use_cls": False, "Det.limit_type": "max",
                  "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1}
        self._detector = rapidocr_class(params={**common, "Global.use_rec": False,
                                                "Det.limit_side_len": DETECT_SIDE})
        self._recogniser = rapidocr_class(params={**common, "Global.use_det": False})

    def detect(self, picture: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) where text is likely, as frame fractions (the detector alone, downscaled)."""
        height, width = picture.shape[:2]
        result = self._detector(np.ascontiguousarray(picture[..., ::-1]))  # RapidOCR wants BGR
        return _boxes(getattr(result, "boxes", None), width, height)

    def recognise(self, picture: np.ndarray, boxes: np.ndarray) -> list[ReadLine]:
        """The text in each box (frame fractions) of ``picture``, recognition only (no detection);
        boxes without a confident read are left out."""
        height, width = picture.shape[:2]
        lines = []
        for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4):
            crop = picture[int(y0 * height): max(int(np.ceil(y1 * height)), int(y0 * height) + 1),
                           int(x0 * width): max(int(np.ceil(x1 * width)), int(x0 * width) + 1)]
            result = self._recogniser(np.ascontiguousarray(crop[..., ::-1]))
            for text, score in zip(getattr(result, "txts", None) or (), getattr(result, "scores", ()) or ()):
                text = " ".join(str(text).split())
                if _legible(text, score):
                    box = (float(x0), float(y0), float(x1), float(y1))
                    lines.append(ReadLine(text, float(min(max(score, 0.0), 1.0)), box))
        return lines

    def read(self, picture: np.ndarray) -> list[ReadLine]:
        """Every text line in ``picture`` (RGB uint8) with confidence >= :data:`MIN_CONFIDENCE` and
        at least :data:`MIN_CHARS` letters or digits: :meth:`detect`, then :meth:`recognise`."""
        return self.recognise(picture, self.detect(picture))


def _legible(text: str, score: float) -> bool:
    return float(score) >= MIN_CONFIDENCE and sum(ch.isalnum() for ch in text) >= MIN_CHARS


def load_reader(threads: int = 0) -> TextReader:
    """A :class:`TextReader`; raises ModelUnavailableError when rapidocr/onnxruntime are missing."""
    try:
        import onnxruntime  # noqa: F401  (RapidOCR's engine; declared explicitly)
        from rapidocr import RapidOCR
    except ImportError as exc:
        raise ModelUnavailableError(f"on-screen text needs RapidOCR ({exc.name} is not installed): "
                                    f"{INSTALL_HINT}") from None
    return TextReader(RapidOCR, threads)
