"""Thumbnails of encoded frames: small JPEGs made while indexing, so result pages load fast.

The indexer writes one ``THUMB_WIDTH``-wide JPEG per stored frame (the scanner already has the
decoded frame; a thumbnail costs one small resize and ~0.5 ms of JPEG). The web layer serves
them and makes others on demand under the same naming scheme. One folder per video version
(id + content hash), so a re-indexed file never shows stale pictures.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

THUMB_WIDTH = 320  # pixels
JPEG_QUALITY = 82


def thumbs_folder(thumbs_dir: Path, video_id: int, content_hash: str) -> Path:
    """The folder of one video version's thumbnails."""
    return thumbs_dir / f"{video_id}-{content_hash[:12]}"


def remove_thumbnails(thumbs_dir: Path, video_id: int, content_hash: str) -> None:
    """Delete one video version's thumbnails (a re-indexed or forgotten file); never raises."""
    shutil.rmtree(thumbs_folder(thumbs_dir, video_id, content_hash), ignore_errors=True)


def thumb_path(thumbs_dir: Path, video_id: int, content_hash: str, ms: int, width: int) -> Path:
    """Where the thumbnail of the frame at ``ms`` milliseconds lives (one folder per video version)."""
    return thumbs_folder(thumbs_dir, video_id, content_hash) / f"{ms:09d}-{width}.jpg"


def jpeg_bytes(image: np.ndarray | Image.Image) -> bytes:
    """Encode an RGB uint8 array (or PIL image) as JPEG bytes."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_thumbnails(thumbs_dir: Path, video_id: int, content_hash: str, times: Sequence[float],
                    jpegs: Sequence[bytes], width: int = THUMB_WIDTH) -> int:
    """Store the JPEGs of frames at ``times`` (seconds); returns how many were written.

    A thumbnail that cannot be written is logged and skipped: it is made again on demand.
    """
    written = 0
    for t, data in zip(times, jpegs):
        path = thumb_path(thumbs_dir, video_id, content_hash, int(round(t * 1000)), width)
        try:
            write_atomically(path, data)
            written += 1
        except OSError as exc:
            log.warning("thumbnail %s not written: %s", path, exc)
    return written
