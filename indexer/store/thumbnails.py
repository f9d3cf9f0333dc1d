"""Thumbnail files of the store: ``thumbs/<video id>-<hash>/<ms>-<width>.jpg``.

The pipeline hands the JPEGs of the stored frames to :meth:`Store.write_video`; other moments
are made on demand (:meth:`Store.thumbnail`) under the same naming scheme. One folder per
video version (id + content hash), so a re-indexed file never shows stale pictures; the store
removes a version's folder when the video is re-indexed or deleted. Files are written
atomically, so concurrent requests for the same frame are harmless.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable, Sequence

from indexer.files import write_atomically

log = logging.getLogger(__name__)


def thumbs_folder(thumbs_dir: Path, video_id: int, content_hash: str) -> Path:
    """The folder of one video version's thumbnails."""
    return thumbs_dir / f"{video_id}-{content_hash[:12]}"


def remove_thumbnails(thumbs_dir: Path, video_id: int, content_hash: str) -> None:
    """Delete one video version's thumbnails (a re-indexed or forgotten file); never raises."""
    shutil.rmtree(thumbs_folder(thumbs_dir, video_id, content_hash), ignore_errors=True)


def thumb_path(thumbs_dir: Path, video_id: int, content_hash: str, ms: int, width: int) -> Path:
    """Where the thumbnail of the frame at ``ms`` milliseconds lives (one folder per video version)."""
    return thumbs_folder(thumbs_dir, video_id, content_hash) / f"{ms:09d}-{width}.jpg"


def save_thumbnails(thumbs_dir: Path, video_id: int, content_hash: str, times: Sequence[float],
                    jpegs: Sequence[bytes], width: int) -> int:
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


def cached_thumbnail(thumbs_dir: Path, video_id: int, content_hash: str, ms: int, width: int,
                     make: Callable[[], bytes]) -> Path:
    """The thumbnail file of the frame at ``ms``, written from ``make()`` first if missing.

    Raises whatever ``make`` raises (MediaError for a frame that cannot be decoded), OSError
    if the file cannot be written.
    """
    path = thumb_path(thumbs_dir, video_id, content_hash, ms, width)
    if not path.is_file():
        write_atomically(path, make())
        log.debug("thumbnail %s", path)
    return path


def cached_poster_time(thumbs_dir: Path, video_id: int, content_hash: str, choose: Callable[[], float]) -> float:
    """The poster frame time of a video version, chosen once by ``choose()`` and kept beside its
    thumbnails (``poster.txt``, milliseconds), so it goes with them. Raises whatever ``choose`` raises."""
    saved = thumbs_folder(thumbs_dir, video_id, content_hash) / "poster.txt"
    try:
        return int(saved.read_text(encoding="ascii")) / 1000
    except (OSError, ValueError):
        pass
    seconds = choose()
    write_atomically(saved, str(round(seconds * 1000)).encode("ascii"))
    return seconds
