"""Decode videos with PyAV: probe them, detect shot boundaries and sample frames for the encoder.

Every time is seconds from the video stream's start: ``(pts - start_pts) x time_base`` in
exact fractions, never a frame count divided by a frame rate. :class:`FrameScanner` decodes
every frame (frame threading on), feeds each to a :class:`~indexer.media.cuts.CutDetector` (hard
cuts, fades, dissolves), and yields one :class:`SampledFrame` every ``every`` seconds plus the
first frame of each shot (after a fade or dissolve: the first frame handled once it is found).
Sampled frames are resized by swscale (short side -> ``image_size``), centre-cropped and
turned upright by the stream's display matrix, without a full-resolution PIL round trip.

Damage in the middle of a file (corrupt packets, lost data, frames stamped far past the
container's end by a damaged timestamp table) is skipped with a bound and described in
:attr:`FrameScanner.report`; anything that is not a decodable video raises
:class:`~indexer.errors.MediaError` with a one-line reason.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from indexer.media.change_gate import ChangeGate
from indexer.media.cuts import LOOKAHEAD, CutDetector
from indexer.errors import MediaError
from indexer.media.prefetch import prefetch
from indexer.media.probe import (Container, VideoStream, describe, first_frames_wanted, open_container,
                                 pixel_aspect, video_stream)
from indexer.media.scan_state import REORDER_DEPTH, Clock, Damage, ScanReport, latest_plausible
from indexer.media.thumbnails import Scaler, frame_planes, thumbnail_rgb, upright
from indexer.types import (Picture, SampledFrame, ShotCut, Transition, VideoInfo, check_sample_every,
                           format_timestamp)

log = logging.getLogger(__name__)

_EPS = 1e-9
_DECODE_AHEAD = 8  # decoded frames queued between the decode thread and the scorer
_NEAR = 5.0  # seconds: a failed packet's own time is believed this close to the last frame
#: Analysis-grade decoding: skip the in-loop deblocking filter (H.264/HEVC; the blocking it
#: would smooth is invisible at 224 px and in the cut signature's cell means) and allow the
#: decoder's non-bit-exact speed-ups. About 2x faster decoding of 720p H.264 here; cut scores
#: move by < 0.3 (floor 12) and the archive-codec tests find every cut on the same frame.
ANALYSIS_DECODING = {"skip_loop_filter": "all", "flags2": "+fast"}
_Item = SampledFrame | ShotCut | Transition


@dataclass(frozen=True)
class _Opened:
    """A file opened for a scan: its decode started, the first frames already out of it."""

    container: Container
    stream: VideoStream
    clock: Clock
    damage: Damage
    first: list[av.VideoFrame]
    decoded: Iterator[av.VideoFrame]


class FrameScanner:
    """Decode a video once, yielding shot cuts and sampled frames in time order.

    Also yields each :class:`Transition` (fade, dissolve) once it is over, after its frames.
    Construction opens the file and describes it from its first decoded frames (raises
    MediaError; ValueError for bad settings); the scan goes on from there, so the file is opened
    once (:meth:`close` it if it is never scanned).
    ``threads`` caps the decoder's threads (0: FFmpeg's choice); ``analysis`` decodes with
    :data:`ANALYSIS_DECODING` (default; False gives bit-exact frames). Iterating yields :class:`ShotCut`
    (before the frame that starts the new shot) and :class:`SampledFrame`; afterwards
    :attr:`report` tells what was decoded and lost. Iteration raises MediaError when no
    frame at all can be decoded.
    """

    def __init__(
        self, path: Path, *, every: float = 0.5, image_size: int = 224, shot_aware: bool = True,
        detector: CutDetector | None = None, threads: int = 0, gate: ChangeGate | None = None,
        thumb_width: int = 0, picture_width: int = 0, analysis: bool = True,
    ) -> None:
        if image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {image_size!r}")
        self.path = Path(path)
        self.every = check_sample_every(every)
        self.image_size = int(image_size)
        self.shot_aware = shot_aware
        self.threads = threads  # decoder threads; 0 lets FFmpeg choose
        self.detector = detector if detector is not None else CutDetector()
        self.gate = gate  # decides which sampled frames are worth an encode (None: all)
        self.thumb_width = thumb_width  # > 0: each sampled frame also carries a thumbnail
        # > 0: every sampled frame (also those the gate turns away, with encoded=False) carries
        # the whole frame at most this wide, for extractors such as OCR
        self.picture_width = picture_width
        self.analysis = analysis  # decode with ANALYSIS_DECODING (False: bit-exact frames)
        self.sampled = 0  # frames due by the sampling grid or a cut, before the gate
        self.report: ScanReport | None = None
        self._sar = Fraction(1)
        self._sizes: dict[tuple[int, int], tuple[int, int]] = {}
        self._last_end = 0.0
        # one swscale context each for model images, thumbnails and pictures, kept between frames
        # (frame.reformat sets one up per call: about 2 ms of a 3 ms model image)
        self._image_scaler, self._thumb_scaler, self._picture_scaler = Scaler(), Scaler(), Scaler()
        self._opened: _Opened | None = None
        self.info = self._open()

    def _open(self) -> VideoInfo:
        """Open the file for a scan and describe it from the scan's own first frames (raises
        MediaError). The container stays open and the decode goes on from there when the scan
        starts: the file is opened, and its stream information read, once (13-16 ms for a 720p
        MP4), and the first frames are decoded once."""
        damage = Damage(self.path)
        container = open_container(self.path)
        try:
            stream = video_stream(container, self.path)
            stream.thread_type = "AUTO"  # frame + slice threading
            stream.codec_context.thread_count = self.threads
            if self.analysis:
                stream.codec_context.options = dict(ANALYSIS_DECODING)
            clock = Clock(stream)
            decoded = self._decode(container, stream, clock, damage)
            first = list(itertools.islice(decoded, first_frames_wanted(stream)))
            info = describe(self.path, container, stream, first)
            damage.limit = latest_plausible(info.duration)
        except BaseException:
            container.close()
            raise
        self._opened = _Opened(container, stream, clock, damage, first, decoded)
        return info

    def close(self) -> None:
        """Close the file if no scan has (a scanner that is never iterated)."""
        opened = getattr(self, "_opened", None)  # None too when __init__ failed before opening
        if opened is not None:
            self._opened = None
            opened.container.close()

    def __del__(self) -> None:
        self.close()

    def __iter__(self) -> Iterator[_Item]:
        self.report = None
        self.sampled = 0
        self.detector.reset()
        if self._opened is None:  # a second scan of the same file
            self.info = self._open()
        opened, self._opened = self._opened, None
        assert opened is not None
        container, stream, clock, damage = opened.container, opened.stream, opened.clock, opened.damage
        with container:
            self._sar = pixel_aspect(stream)
            # Decoding runs in its own thread, so the frame-threaded decoder keeps working
            # while this thread scores and samples frames.
            frames = prefetch(itertools.chain(opened.first, opened.decoded), maxsize=_DECODE_AHEAD)
            try:
                yield from self._sample(self._timed(frames, clock, damage))
                self._check_end(damage)
            finally:
                frames.close()  # the decode thread stops before the container closes
                self.report = damage.report(self._last_end)
        if damage.frames == 0:
            raise MediaError(self.path, "no frame could be decoded (truncated or corrupt file)")
        log.info("%s: %d frames, %.3fs, %s", self.path, damage.frames, self._last_end, self.report)

    def _check_end(self, damage: Damage) -> None:
        """After a full scan, count video missing at the end (truncated file, or given up).

        A shortfall under 1 s (or 2 %) is ignored: container durations may include other
        streams or edit-list padding.
        """
        declared = self.info.duration
        missing = declared - self._last_end
        if damage.gave_up and missing > 0:
            damage.lost += Fraction(missing)
        elif missing > max(1.0, 0.02 * declared):
            damage.lost += Fraction(missing)
            why = "the frames after it have damaged timestamps" if damage.misstamped else "truncated file?"
            damage.note(f"video ends at {format_timestamp(self._last_end)} but the container "
                        f"says {format_timestamp(declared)} ({why})")

    def _sample(self, timed: Iterator[tuple[av.VideoFrame, float, int]]) -> Iterator[_Item]:
        """Pick one frame per ``every`` seconds (PTS grid) plus each shot's first frame; the
        gate, if any, keeps only those worth an encode (before they are resized).

        The detector decides a cut a few frames after it (:data:`~indexer.media.cuts.LOOKAHEAD`), so
        frames wait in a short queue; a gradual transition is known once it is over, and the
        first frame handled after it starts the new shot (a clean frame, never a blend)."""
        self._next_index = 0
        self._cut_at: dict[int, ShotCut] = {}
        self._shot_after: float | None = None
        queue: deque[tuple[av.VideoFrame, float, int, np.ndarray]] = deque()
        for frame, time, pts in timed:
            yield from self._note(self.detector.feed(frame, time, pts))
            queue.append((frame, time, pts, self.detector.last_signature))
            while len(queue) > LOOKAHEAD:
                yield from self._handle(*queue.popleft())
        yield from self._note(self.detector.flush())
        while queue:
            yield from self._handle(*queue.popleft())

    def _note(self, events: list[ShotCut | Transition]) -> Iterator[_Item]:
        """Remember decided cuts for their frames; yield transitions at once."""
        for event in events:
            if isinstance(event, ShotCut):
                self._cut_at[event.pts] = event
            else:
                self._shot_after = event.end
                yield event

    def _handle(self, frame: av.VideoFrame, time: float, pts: int, signature: np.ndarray) -> Iterator[_Item]:
        """Yield the cut before ``frame`` (if any) and ``frame`` itself when it is sampled."""
        cut = self._cut_at.pop(pts, None)
        after_transition = self._shot_after is not None and time > self._shot_after + _EPS
        if after_transition:
            self._shot_after = None
        due = time >= self._next_index * self.every - _EPS
        if cut is not None:
            yield cut
        if (cut is not None or after_transition) and self.gate is not None:
            self.gate.new_shot()
        starts_shot = (cut is not None or after_transition) and self.shot_aware
        if due or starts_shot:
            self.sampled += 1
            admitted = self.gate is None or self.gate.admit(time, signature, starts_shot)
            if admitted or self.picture_width > 0:
                thumb = self.thumbnail(frame) if admitted and self.thumb_width > 0 else None
                picture = self.picture(frame) if self.picture_width > 0 else None
                yield SampledFrame(time=time, pts=pts, image=self.image(frame) if admitted else None,
                                   shot_start=starts_shot,
                                   thumbnail=thumb, picture=picture, encoded=admitted)
        if due:
            self._next_index = math.floor(time / self.every + _EPS) + 1

    def _timed(
        self, frames: Iterator[av.VideoFrame], clock: Clock, damage: Damage
    ) -> Iterator[tuple[av.VideoFrame, float, int]]:
        """Frames in presentation order with their times; tracks gaps and the last frame end."""
        previous: int | None = None
        self._last_end = 0.0
        limit = damage.limit
        for frame, pts in self._in_order(frames, clock):
            time = clock.seconds(pts)
            if time < 0:
                continue  # pre-roll before the stream start is never shown
            if time > limit:
                damage.stamped_late(time)
                continue
            if previous is not None:
                damage.gap(pts - previous, clock, time)
            previous = pts
            step = damage.deltas[-1] if damage.deltas else clock.step
            self._last_end = clock.seconds(pts + (frame.duration or step))
            if self._last_end > limit:  # a damaged duration (the next frame's stamp) ends it late
                self._last_end = clock.seconds(pts + step)
            yield frame, time, pts

    @staticmethod
    def _in_order(
        frames: Iterator[av.VideoFrame], clock: Clock
    ) -> Iterator[tuple[av.VideoFrame, int]]:
        """Restore increasing PTS (damage can upset the decoder's reordering); drop repeats."""
        heap: list[tuple[int, int, av.VideoFrame]] = []
        last: int | None = None
        for seq, frame in enumerate(frames):
            heapq.heappush(heap, (clock.stamp(frame), seq, frame))
            while len(heap) > REORDER_DEPTH:
                pts, _, ready = heapq.heappop(heap)
                if last is None or pts > last:
                    last = pts
                    yield ready, pts
        for pts, _, ready in sorted(heap):
            if last is None or pts > last:
                last = pts
                yield ready, pts

    @staticmethod
    def _decode(
        container: Container, stream: VideoStream, clock: Clock, damage: Damage
    ) -> Iterator[av.VideoFrame]:
        """Every frame the decoder gives; failing packets are skipped until damage gives up."""
        packets = container.demux(stream)
        last: float | None = None  # time of the last decoded frame with a plausible timestamp
        while not damage.gave_up:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as err:  # the demuxer resumes after the bad data
                damage.error(f"unreadable data skipped ({err.strerror or err})")
                packets = container.demux(stream)
                continue
            try:
                frames = packet.decode()
            except av.FFmpegError as err:
                own = None if packet.pts is None else clock.seconds(packet.pts)
                damage.error(f"corrupt data near {format_timestamp(_near(own, last, damage.limit))} skipped "
                             f"({err.strerror})")
                continue
            for frame in frames:
                damage.decoded(frame)
                if frame.pts is not None and 0 <= (time := clock.seconds(frame.pts)) <= damage.limit:
                    last = time
                yield frame

    def image(self, frame: av.VideoFrame) -> np.ndarray:
        """Model input for ``frame``: (S, S, 3) uint8 RGB, short side scaled to S by swscale,
        centre-cropped, display rotation applied."""
        size = self.image_size
        width, height = self._scaled_size(frame.width, frame.height)
        rgb = self._image_scaler(frame, width, height, "rgb24", "BICUBIC")
        top, left = (height - size) // 2, (width - size) // 2
        image = rgb[top : top + size, left : left + size]
        return upright(image, self.info.rotation)

    def thumbnail(self, frame: av.VideoFrame) -> np.ndarray:
        """The whole frame, ``thumb_width`` wide (display aspect and rotation applied), RGB uint8."""
        return thumbnail_rgb(frame, self.thumb_width, self._sar, self.info.rotation, self._thumb_scaler)

    def picture(self, frame: av.VideoFrame) -> Picture:
        """The whole frame as displayed, at most ``picture_width`` wide (never enlarged): I420
        planes, display rotation still to apply (:class:`~indexer.types.Picture`)."""
        shown = frame.height if self.info.rotation in (90, 270) else round(frame.width * self._sar)
        planes = frame_planes(frame, min(self.picture_width, shown), self._sar, self.info.rotation, self._picture_scaler)
        return Picture(yuv=planes, rotation=self.info.rotation)

    def _scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """Coded size scaled (pixel aspect corrected) so the short side is image_size."""
        key = (width, height)
        if key not in self._sizes:
            size, shown = self.image_size, width * self._sar
            scale = Fraction(size) / min(shown, height)
            self._sizes[key] = (max(size, round(shown * scale)), max(size, round(height * scale)))
        return self._sizes[key]


def _near(own: float | None, last: float | None, limit: float) -> float:
    """Where a packet that failed to decode lies, in seconds: its own time (``own``) when that is
    plausible and within a few seconds of the last frame decoded with a plausible time
    (``last``), as its timestamp may be as damaged as its data; else that frame's time."""
    if own is not None and 0 <= own <= limit and (last is None or abs(own - last) <= _NEAR):
        return own
    return last if last is not None else 0.0
