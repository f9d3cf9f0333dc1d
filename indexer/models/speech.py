"""Speech recognition: faster-whisper (CTranslate2, int8 on the CPU) with word timestamps and VAD.

Like the CLIP weights, the model is downloaded once on a connected machine (``base`` by default,
about 145 MB, into the Hugging Face cache) or given as a folder (``--asr-model PATH``: a
CTranslate2 conversion with ``model.bin``, ``config.json``, ``tokenizer.json`` and the
vocabulary). :func:`resolve_model` finds it without a download when it is already there; offline
without it, it raises :class:`~indexer.errors.ModelUnavailableError` whose one line says how to
get it. Silero VAD (shipped inside faster-whisper) skips silence and music before decoding.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import ModelUnavailableError
from indexer.types import SpeechSegment, SpokenWord

log = logging.getLogger(__name__)

DEFAULT_ASR_MODEL = "base"
SAMPLE_RATE = 16_000
INSTALL_HINT = "pip install 'reelsearch[words]' (faster-whisper)"
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def _download_hint(name: str) -> str:
    return (f"on a connected machine run `python -c \"from faster_whisper import download_model; "
            f"download_model('{name}')\"` (it lands in the Hugging Face cache), or pass --asr-model DIR "
            "(a faster-whisper model folder: model.bin, config.json, tokenizer.json, vocabulary)")


def resolve_model(name_or_path: str) -> Path:
    """The folder of the ASR model ``name_or_path`` (a faster-whisper size name or a folder).

    A name is looked up in the Hugging Face cache first; it is downloaded only when it is not
    there and ``HF_HUB_OFFLINE`` is not set.

    Raises: ModelUnavailableError (faster-whisper missing, no such folder, model not on this
    machine and no download possible) with one line saying how to get it.
    """
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        raise ModelUnavailableError(f"speech recognition needs faster-whisper: {INSTALL_HINT}") from None
    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir() or os.sep in name_or_path:
        missing = [f for f in _MODEL_FILES if not (candidate / f).is_file()]
        if missing:
            raise ModelUnavailableError(f"the ASR model folder {candidate} lacks {', '.join(missing)}")
        return candidate.absolute()
    try:
        return Path(download_model(name_or_path, local_files_only=True))
    except ValueError as exc:
        raise ModelUnavailableError(f"unknown ASR model {name_or_path!r}: {exc}") from None
    except Exception:
        pass  # not in the cache
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise ModelUnavailableError(f"the ASR model {name_or_path!r} is not on this machine: "
                                    + _download_hint(name_or_path))
    try:
        return Path(download_model(name_or_path))
    except Exception as exc:
        log.debug("ASR model download failed: %s", exc)
        raise ModelUnavailableError(f"the ASR model {name_or_path!r} is not on this machine and cannot "
                                    "be downloaded: " + _download_hint(name_or_path)) from None


class SpeechRecognizer:
    """A loaded faster-whisper model; :meth:`transcribe` turns samples into timed segments."""

    def __init__(self, model_dir: Path, threads: int = 0) -> None:
        """Raises ModelUnavailableError if the model cannot be loaded."""
        try:
            from faster_whisper import WhisperModel
            self.model: Any = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                           cpu_threads=threads)
        except ImportError:
            raise ModelUnavailableError(f"speech recognition needs faster-whisper: {INSTALL_HINT}") from None
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailableError(f"the ASR model in {model_dir} cannot be loaded: {exc}") from None
        self.name = Path(model_dir).name

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> tuple[SpeechSegment, ...]:
        """Segments with word timestamps (seconds from sample 0) of 16 kHz mono float32 ``samples``."""
        segments, _info = self.model.transcribe(np.asarray(samples, np.float32), language=language,
                                                word_timestamps=True, vad_filter=True,
                                                condition_on_previous_text=False)
        out = []
        for seg in segments:
            words = tuple(SpokenWord(w.word.strip(), max(0.0, float(w.start)), max(float(w.start), float(w.end)),
                                     float(min(max(w.probability, 0.0), 1.0)))
                          for w in (seg.words or ()) if w.word.strip())
            text = " ".join(seg.text.split())
            if text:
                start = words[0].start if words else max(0.0, float(seg.start))
                end = words[-1].end if words else max(start, float(seg.end))
                out.append(SpeechSegment(text, start, end, words))
        return tuple(out)
