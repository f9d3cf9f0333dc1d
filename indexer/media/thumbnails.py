"""Thumbnails as pictures: a decoded frame scaled to a width (display aspect and rotation
applied) and encoded as JPEG bytes.

The scanner makes one for every stored frame while indexing; :func:`frame_thumbnail` makes one
for any other moment on demand (the web's thumbnails), opening the file the same way the
scanner does (same video stream, same clock from PTS). Where the files live is the store's
business (:mod:`indexer.store.thumbnails`).
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from indexer.errors import MediaError
from indexer.media.probe import open_container, pixel_aspect, probe, video_stream
from indexer.media.scan_state import Clock

#: swscale in one thread (every reformat of the scan: model images, thumbnails, the cut signature
#: of frames that are not planar YUV): PyAV 17 and later default to one thread per core, which at
#: these sizes costs more CPU than it saves, while the decoder and the encoder need the cores.
ONE_THREAD = {"threads": 1} if int(av.__version__.split(".")[0]) >= 17 else {}
#: 8-bit 4:2:0 formats that are scaled in their own format before the conversion to RGB.
_SCALE_IN_YUV = frozenset({"yuv420p", "yuvj420p"})
#: Width in pixels of every thumbnail (stored while indexing and made on demand).
THUMB_WIDTH = 320
JPEG_QUALITY = 82
_LATE = 0.0006  # seconds: a frame this close after the asked time still counts as shown then


def jpeg_bytes(image: np.ndarray | Image.Image) -> bytes:
    """Encode an RGB uint8 array (or PIL image) as JPEG bytes.

    Without libjpeg's optimised Huffman tables: they save about 3 % of a thumbnail's bytes and
    double the time it takes (0.31 against 0.59 ms for 320 x 180), once for every stored frame.
    """
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    (pil if pil.mode == "RGB" else pil.convert("RGB")).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """``rgb`` turned by the display rotation (degrees clockwise), as a C-contiguous array."""
    turns = (-rotation // 90) % 4  # np.rot90 turns counter-clockwise
    return np.ascontiguousarray(np.rot90(rgb, turns) if turns else rgb)


class Scaler:
    """swscale for the frames of one stream, its contexts kept between frames (``frame.reformat``
    sets one up per call: 2-3x the cost of the scaling itself for a thumbnail), in one thread.

    A frame in 8-bit 4:2:0 YUV (nearly all video) is scaled to RGB in two steps: scaled in its own
    format, then the small picture converted. That takes 4-6x less CPU than one scaled conversion
    to packed RGB, which swscale runs on its slow path (chroma interpolated at the output size);
    chroma keeps half the resolution, as in the source.
    """

    def __init__(self) -> None:
        self._scale, self._convert = VideoReformatter(), VideoReformatter()

    def __call__(self, frame: av.VideoFrame, width: int, height: int, fmt: str, interpolation: str) -> np.ndarray:
        """``frame`` scaled to ``width`` x ``height`` in ``fmt`` ("rgb24", "yuv420p", ...) as an array."""
        if fmt == "rgb24" and frame.format.name in _SCALE_IN_YUV:
            small = self._scale.reformat(frame, width=width, height=height, format=frame.format.name,
                                         interpolation=interpolation, **ONE_THREAD)
            return self._convert.reformat(small, format="rgb24", **ONE_THREAD).to_ndarray()
        return self._scale.reformat(frame, width=width, height=height, format=fmt, interpolation=interpolation,
                                    **ONE_THREAD).to_ndarray()


def thumbnail_rgb(frame: av.VideoFrame, width: int, sar: Fraction, rotation: int,
                  scaler: Scaler | None = None) -> np.ndarray:
    """The whole frame, ``width`` wide as displayed (pixel aspect and rotation applied), RGB uint8.

    ``scaler``: one kept by the caller for the frames of one stream."""
    return upright(_scaled(frame, width, sar, rotation, "rgb24", scaler), rotation)


def frame_planes(frame: av.VideoFrame, width: int, sar: Fraction, rotation: int,
                 scaler: Scaler | None = None) -> np.ndarray:
    """The whole frame scaled so it is about ``width`` wide as displayed (pixel aspect applied,
    rotation not: see :class:`~indexer.types.Picture`), as I420 planes of even size (``scaler``
    as for :func:`thumbnail_rgb`)."""
    return _scaled(frame, width, sar, rotation, "yuv420p", scaler)


def _scaled(frame: av.VideoFrame, width: int, sar: Fraction, rotation: int, fmt: str,
            scaler: Scaler | None) -> np.ndarray:
    """The whole frame in ``fmt``, scaled (bilinear) so it is ``width`` wide as displayed, the
    display rotation not yet applied; both sides even for 4:2:0 planes."""
    rotated = rotation in (90, 270)
    shown_w, shown_h = frame.width * sar, Fraction(frame.height)
    if rotated:  # the displayed width is the coded height
        shown_w, shown_h = shown_h, shown_w
    if fmt == "yuv420p":
        out_w, out_h = max(2, width // 2 * 2), max(2, round(width * shown_h / shown_w / 2) * 2)
    else:
        out_w, out_h = width, max(2, round(width * shown_h / shown_w))
    coded = (out_h, out_w) if rotated else (out_w, out_h)
    return (scaler or Scaler())(frame, coded[0], coded[1], fmt, "BILINEAR")


def frame_thumbnail(path: Path, seconds: float, width: int = THUMB_WIDTH) -> bytes:
    """JPEG of the frame shown at ``seconds`` from the stream start, ``width`` pixels wide.

    Raises MediaError if the file cannot be opened or holds no decodable video frame there.
    """
    info = probe(path)
    try:
        with open_container(path) as container:
            stream = video_stream(container, path)
            stream.thread_type = "AUTO"
            clock = Clock(stream)
            target = max(seconds, 0.0)
            container.seek(int(target / clock.time_base) + (clock.start or 0), stream=stream, backward=True)
            chosen = None
            for frame in container.decode(stream):
                if chosen is not None and clock.seconds(clock.stamp(frame)) > target + _LATE:
                    break
                chosen = frame
            if chosen is None:
                raise MediaError(path, "no video frame could be decoded")
            return jpeg_bytes(thumbnail_rgb(chosen, width, pixel_aspect(stream), info.rotation))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot read a frame: {exc}") from None
