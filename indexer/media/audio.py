"""Read a video's audio track with PyAV: 16 kHz mono float32 samples for speech recognition.

Times stay on the video's clock: sample 0 is the video stream's start (``VideoInfo.start_time``),
so audio that starts later is padded with silence and audio before it is dropped.
A file without an audio track raises :class:`NoAudioError`; one whose audio cannot be decoded
raises :class:`~indexer.errors.MediaError`; damage part-way keeps what decoded before it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from indexer.errors import MediaError
from indexer.media.probe import open_container

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
#: Decode errors tolerated in one audio track before the rest of it is given up.
MAX_AUDIO_ERRORS = 20


class NoAudioError(MediaError):
    """The file has no audio track."""


def read_audio(path: Path, video_start: float = 0.0) -> np.ndarray:
    """The first audio track of ``path`` as mono float32 at :data:`SAMPLE_RATE`, sample 0 at
    ``video_start`` seconds of the stream clock.

    Raises:
        NoAudioError: the file has no audio track.
        MediaError: the audio track cannot be decoded at all.
    """
    path = Path(path)
    with open_container(path) as container:
        if not container.streams.audio:
            raise NoAudioError(path, "no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks, first, errors = [], None, 0
        for packet in _packets(container, stream):
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                errors += 1
                log.debug("%s: audio decode error: %s", path, exc)
                if errors > MAX_AUDIO_ERRORS:
                    break
                continue
            for frame in frames:
                if first is None and frame.pts is not None and frame.time_base is not None:
                    first = float(frame.pts * frame.time_base)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        raise MediaError(path, f"no audio packet decoded ({errors} errors)")
    samples = np.concatenate(chunks).astype(np.float32)
    return _align(samples, (first or 0.0) - video_start)


def _packets(container, stream):
    """Demux the audio stream's packets, stopping (not failing) at a broken container."""
    try:
        for packet in container.demux(stream):
            if packet.size:
                yield packet
    except av.FFmpegError as exc:
        log.debug("audio demux stopped: %s", exc)


def _align(samples: np.ndarray, offset: float) -> np.ndarray:
    """Shift samples that start ``offset`` seconds after the video's start onto its clock."""
    shift = int(round(offset * SAMPLE_RATE))
    if shift > 0:
        return np.concatenate([np.zeros(shift, np.float32), samples])
    return samples[-shift:] if shift < 0 else samples
