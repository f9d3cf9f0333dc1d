"""Uploaded query images: decoded once, straight to the size the encoder needs, a few at a time.

An upload is small on the wire but may be huge once decoded (a flat 8000x5000 PNG is 120 KiB and
160 MB of pixels), so decoding is where an anonymous client could make the server swell. Here:

- the header is read first and anything over :data:`MAX_IMAGE_PIXELS`, or not one of
  :data:`FORMATS`, is refused before a pixel is decoded;
- a JPEG is decoded at reduced scale (libjpeg's DCT scaling through ``Image.draft``), other
  formats are decoded once and reduced at once by whole factors (box filter), so what the engine
  gets has a short side of at least the encoder's input size and less than twice it;
- decoding runs on a small pool of worker threads (:class:`UploadDecoder`, ``IMAGE_SEARCHES``
  workers): at most that many images are in memory at full size, only those threads ever hold
  large buffers (so the allocator's per-thread arenas cannot pile up), and when all are busy
  the request is refused at once (:class:`DecoderBusy`, answered 503 with Retry-After) instead of
  queueing behind them and holding a server thread that text searches need.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageOps

from indexer.errors import QueryError

log = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F"})


class DecoderBusy(Exception):
    """Every upload decoder is busy; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy with other image searches; try again in {retry_after} s")
        self.retry_after = retry_after


def _open(data: bytes) -> Image.Image:
    """Open (header only) and check the size. Raises QueryError."""
    if not data:
        raise QueryError("the uploaded image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise QueryError("the uploaded file is not a readable image "
                         f"({' '.join(FORMATS)}; {type(exc).__name__})") from None
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise QueryError(f"the image is too large ({image.width}x{image.height} pixels; "
                         f"at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels)")
    return image


def decode_image(data: bytes, side: int) -> Image.Image:
    """The uploaded image as RGB, upright (EXIF orientation), with its short side in
    [``side``, 2 * ``side``) when it was larger than that (smaller images are kept as they are).

    Raises QueryError when the data is not a readable image of an accepted format and size.
    """
    if side < 1:
        raise ValueError(f"side must be >= 1, got {side}")
    image = _open(data)
    try:
        if image.format == "JPEG":
            image.draft("RGB", (side, side))  # decode at 1/2, 1/4 or 1/8 scale, never below side
        image.load()
        if image.mode not in _REDUCIBLE_MODES:
            image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
        factor = min(image.size) // side
        if factor >= 2:
            image = image.reduce(factor)
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise QueryError(f"the uploaded image cannot be decoded ({type(exc).__name__})") from None


class UploadDecoder:
    """A pool of ``workers`` threads that decode uploads; refuses work when all are busy."""

    def __init__(self, workers: int, retry_after: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers, self.retry_after = workers, retry_after
        self._free = threading.BoundedSemaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reelsearch-upload")

    def decode(self, data: bytes, side: int) -> Image.Image:
        """:func:`decode_image` on a worker thread.

        Raises DecoderBusy when every worker is busy, QueryError for a bad image.
        """
        if not self._free.acquire(blocking=False):
            log.info("image search refused: all %d upload decoders are busy", self.workers)
            raise DecoderBusy(self.retry_after)
        try:
            return self._pool.submit(decode_image, data, side).result()
        finally:
            self._free.release()

    def close(self) -> None:
        """Stop the worker threads (tests, shutdown)."""
        self._pool.shutdown(wait=True)
