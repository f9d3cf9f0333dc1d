"""Speech while indexing: the audio track transcribed with word timestamps (faster-whisper).

:class:`SpokenWords` is an extractor (:mod:`indexer.pipeline.extractors`) that needs no frame: at
``finish`` it reads the audio track (:func:`indexer.media.audio.read_audio`, on the video's clock)
and transcribes it. A file without audio, with a silent or undecodable track, gives a
:class:`~indexer.types.Speech` without segments whose ``note`` says why; indexing goes on.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import numpy as np

from indexer.errors import MediaError
from indexer.media.audio import NoAudioError, read_audio
from indexer.models.speech import SpeechRecognizer
from indexer.types import SampledFrame, Speech, VideoInfo

log = logging.getLogger(__name__)

#: Audio whose loudest sample is below this (of full scale) is silent: no transcription.
SILENCE = 1e-3


@functools.lru_cache(maxsize=2)
def shared_recognizer(model_dir: Path) -> SpeechRecognizer:
    """The process's recognizer for ``model_dir`` (loaded once). Raises ModelUnavailableError."""
    return SpeechRecognizer(model_dir)


class SpokenWords:
    """The speech extractor; ``finish()`` returns a :class:`~indexer.types.Speech`."""

    def __init__(self, model_dir: Path, recognizer: SpeechRecognizer | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.recognizer = recognizer
        self.info: VideoInfo | None = None
        self.seconds = 0.0  # wall time of decoding + recognition, for the benchmark

    def start(self, info: VideoInfo) -> None:
        self.info = info

    def frame(self, frame: SampledFrame) -> None:
        pass  # speech comes from the audio track, read once at the end

    def finish(self) -> Speech:
        started = time.perf_counter()
        try:
            return self._transcribe()
        finally:
            self.seconds = time.perf_counter() - started

    def _transcribe(self) -> Speech:
        assert self.info is not None, "start() comes first"
        name = self.model_dir.name
        try:
            samples = read_audio(self.info.path, self.info.start_time)
        except NoAudioError:
            return Speech(note="no audio track", model=name)
        except MediaError as exc:
            log.info("%s: audio unreadable: %s", self.info.path, exc.reason)
            return Speech(note=f"audio track unreadable: {exc.reason}", model=name)
        if not samples.size or float(np.abs(samples).max()) < SILENCE:
            return Speech(note="silent audio", model=name)
        recognizer = self.recognizer or shared_recognizer(self.model_dir)
        try:
            segments = recognizer.transcribe(samples)
        except (RuntimeError, ValueError) as exc:
            log.warning("%s: speech recognition failed: %s", self.info.path, exc)
            return Speech(note=f"speech recognition failed ({exc})", model=name)
        return Speech(segments, "" if segments else "no speech heard", name)
