"""Small JPEG thumbnails of video frames: the indexer's, else made on demand with PyAV.

The indexer stores a thumbnail of every stored frame (indexer.media.thumbnails); any other frame is
decoded on first request and cached under the same scheme, keyed by (video id, content hash,
time in ms, width), so re-indexing a changed file never serves a stale picture. Files are
written atomically, so concurrent requests for the same frame are harmless.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
from PIL import Image

from indexer.errors import MediaError
from indexer.media.thumbnails import jpeg_bytes, thumb_path, write_atomically

log = logging.getLogger(__name__)


def grab_frame(path: Path, seconds: float, start_time: float = 0.0) -> Image.Image:
    """Decode the frame shown at ``seconds`` (from the stream start) as a PIL image.

    Raises MediaError if the file cannot be opened or holds no decodable video frame.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            target = start_time + max(seconds, 0.0)
            if stream.time_base is not None:
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
            chosen = None
            for frame in container.decode(stream):
                if chosen is not None and frame.time is not None and frame.time > target + 0.0006:
                    break
                chosen = frame
            if chosen is None:
                raise MediaError(path, "no video frame could be decoded")
            return chosen.to_image()
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise MediaError(path, f"cannot read a frame: {exc}") from None


def make_thumbnail(image: Image.Image, width: int, rotation: int = 0) -> Image.Image:
    """Apply the display rotation (degrees clockwise) and scale to ``width`` pixels wide."""
    if rotation:
        image = image.rotate(-rotation, expand=True)
    height = max(1, round(image.height * width / image.width))
    return image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)


def cached_thumbnail(thumbs_dir: Path, video_path: Path, *, video_id: int, content_hash: str,
                     seconds: float, width: int, start_time: float = 0.0, rotation: int = 0) -> Path:
    """The cached JPEG for this frame, generating it first if needed.

    Raises MediaError if the video cannot be decoded, OSError if the cache cannot be written.
    """
    ms = int(round(seconds * 1000))
    path = thumb_path(thumbs_dir, video_id, content_hash, ms, width)
    if path.is_file():
        return path
    image = make_thumbnail(grab_frame(video_path, ms / 1000, start_time), width, rotation)
    write_atomically(path, jpeg_bytes(image))
    log.debug("thumbnail %s", path)
    return path
