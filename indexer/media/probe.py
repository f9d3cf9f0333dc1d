"""Probe a media file with PyAV: is it a decodable video, and what are its stream's facts?

Reads the first frames (rotation lives in each frame's display matrix, and a one-frame
stream is a still image, not a video). Every failure is a MediaError with a one-line reason.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from fractions import Fraction
from pathlib import Path

import av

from indexer.errors import MediaError
from indexer.types import VideoInfo

log = logging.getLogger(__name__)
Container = av.container.InputContainer
VideoStream = av.video.stream.VideoStream

#: Codecs whose one-frame streams are pictures, not videos.
IMAGE_CODECS = frozenset(
    "png mjpeg jpegls jpeg2000 jpegxl bmp gif webp tiff pam ppm pgm pbm qoi exr dpx sgi "
    "targa pcx xbm xwd hdr psd".split()
)
PROBE_PACKETS = 300  # packets probe() reads looking for its first frames

def probe(path: Path) -> VideoInfo:
    """Open ``path``, decode its first frames and describe its video stream.

    Raises MediaError for a missing, unreadable, empty or non-media file, a file without a
    video stream, a still image, or a video none of whose first frames decode.
    """
    path = Path(path)
    with open_container(path) as container:
        stream = video_stream(container, path)
        return describe(path, container, stream, _first_frames(container, stream, path))


def first_frames_wanted(stream: VideoStream) -> int:
    """How many first frames :func:`describe` needs: two where the codec also makes still images
    (one frame then means a picture, not a video), else one."""
    return 2 if stream.codec_context.name in IMAGE_CODECS else 1


def describe(path: Path, container: Container, stream: VideoStream, first: list[av.VideoFrame]) -> VideoInfo:
    """VideoInfo of ``stream`` from its first decoded frames (:func:`first_frames_wanted` of
    them, or fewer at the end of the file); raises MediaError when there are none or the file is
    a still image. The scanner calls it with the first frames of its own decode."""
    if not first:
        raise MediaError(path, "no frame could be decoded (truncated or corrupt file)")
    fmt, codec = container.format.name, stream.codec_context.name
    if fmt == "image2" or fmt.endswith("_pipe") or (len(first) == 1 and codec in IMAGE_CODECS):
        raise MediaError(path, f"a still image ({codec}), not a video")
    return _video_info(path, container, stream, first[0])


def _read_head(path: Path) -> bytes:
    """Check the file system entry and return the file's first bytes; raises MediaError."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise MediaError(path, "is a directory, not a video file")
        if not stat.S_ISREG(info.st_mode):
            raise MediaError(path, "not a regular file")
        if info.st_size == 0:
            raise MediaError(path, "empty file (0 bytes)")
        with open(path, "rb") as fh:
            return fh.read(64)
    except FileNotFoundError:
        reason = "broken symlink" if path.is_symlink() else "file does not exist"
        raise MediaError(path, reason) from None
    except PermissionError:
        raise MediaError(path, "permission denied (the file cannot be read)") from None
    except OSError as err:
        reason = "symlink loop" if err.errno == errno.ELOOP else f"cannot be read ({err.strerror})"
        raise MediaError(path, reason) from None


def open_container(path: Path) -> Container:
    """Check the file, then open it with PyAV; raises MediaError."""
    head = _read_head(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except PermissionError:
        raise MediaError(path, "permission denied (the file cannot be read)") from None
    except (av.FFmpegError, UnicodeDecodeError) as err:
        log.debug("av.open(%s) failed: %s", path, err)
        raise MediaError(path, _unrecognised(head)) from None


def _unrecognised(head: bytes) -> str:
    """Why a file FFmpeg cannot open is not a video, guessed from its first bytes."""
    if head[4:8] == b"ftyp":
        return "truncated or damaged MP4/MOV file (its index, the 'moov' box, is missing)"
    text = head.decode("utf-8", errors="replace").rstrip("\ufffd")  # may end mid-character
    if "\ufffd" not in text and all(ch.isprintable() or ch.isspace() for ch in text):
        return "not a media file (it contains text)"
    return "not a media file (format not recognised)"


def video_stream(container: Container, path: Path) -> VideoStream:
    """The first real video stream (cover art does not count); raises MediaError."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    if container.streams.audio:
        raise MediaError(path, "no video stream (audio-only file)")
    raise MediaError(path, "no video stream")


def _first_frames(container: Container, stream: VideoStream, path: Path) -> list[av.VideoFrame]:
    """Decode the first frame from the start, and a second one where the codec also makes still
    images (one frame then means a picture, not a video); none if none decodes in the first
    :data:`PROBE_PACKETS` packets (:func:`describe` says so)."""
    wanted = first_frames_wanted(stream)
    frames: list[av.VideoFrame] = []
    try:
        for count, packet in enumerate(container.demux(stream)):
            try:
                frames.extend(packet.decode())
            except av.FFmpegError as err:
                log.debug("%s: probe skipped a packet: %s", path, err)
            if len(frames) >= wanted or count >= PROBE_PACKETS:
                break
    except av.FFmpegError as err:
        log.debug("%s: probe stopped reading: %s", path, err)
    return frames


def _video_info(
    path: Path, container: Container, stream: VideoStream, first: av.VideoFrame
) -> VideoInfo:
    """Assemble VideoInfo from the stream and its first decoded frame."""
    tb = stream.time_base or Fraction(1, av.time_base)
    start_pts = stream.start_time if stream.start_time is not None else (first.pts or 0)
    if stream.duration:
        duration = float(stream.duration * tb)
    else:
        duration = (container.duration or 0) / av.time_base
    rotation = _rotation(first, stream)
    width, height = max(1, round(first.width * pixel_aspect(stream))), first.height
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path, duration=max(0.0, duration), fps=frame_rate(stream),
        width=width, height=height, rotation=rotation,
        start_time=max(0.0, float(start_pts * tb)),  # negative starts (edit lists) shown as 0
        codec=stream.codec_context.name,
    )


def _rotation(frame: av.VideoFrame, stream: VideoStream) -> int:
    """Clockwise display rotation in degrees (0/90/180/270) from the display matrix.

    PyAV reports the matrix as a counter-clockwise angle; old files may only carry a
    clockwise ``rotate`` metadata tag.
    """
    counter_clockwise = float(frame.rotation or 0)
    if not counter_clockwise:
        try:
            counter_clockwise = -float(stream.metadata.get("rotate", 0))
        except ValueError:
            counter_clockwise = 0.0
    return int(round(-counter_clockwise / 90)) % 4 * 90


def frame_rate(stream: VideoStream) -> Fraction | None:
    """Average frame rate; the nominal one if they differ only by timestamp rounding."""
    average, nominal = stream.average_rate, stream.base_rate
    if average and nominal and abs(average / nominal - 1) < Fraction(1, 500):
        return Fraction(nominal)
    rate = average or stream.guessed_rate
    return Fraction(rate) if rate else None


def pixel_aspect(stream: VideoStream) -> Fraction:
    """Sample (pixel) aspect ratio; 1 when unknown."""
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar > 0 else Fraction(1)

