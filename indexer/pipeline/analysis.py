"""The pure half of indexing: a video file in, an :class:`Analysis` value out, no store.

One decode drives everything: a decode thread feeds the scanner (cuts, sampling, change gate,
thumbnails), the scanner runs in a producer thread, and this thread embeds full batches, so
decoder and encoder overlap (both release the GIL). Several files may be analysed at once by one
:class:`Analyser` (see :mod:`indexer.pipeline.orchestrate`): its image encoder runs for one of
them at a time, so one file encodes while the next decodes, and two encoder runs never split the
cores between them. Extractors are made per file; the models they share must be thread-safe
(onnxruntime's and CTranslate2's are). Labels are found from the embeddings and
cuts; registered extractors (:mod:`indexer.pipeline.extractors`) see every sampled frame.
The result is frozen and picklable, so it can be made in a worker process or on another
machine and committed by the single writer (:mod:`indexer.pipeline.commit`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexer.errors import MediaError
from indexer.labels.classify import LabelModel
from indexer.labels.segments import label_segments
from indexer.media.change_gate import ChangeGate
from indexer.media.frames import FrameScanner
from indexer.media.prefetch import prefetch
from indexer.media.thumbnails import THUMB_WIDTH, jpeg_bytes
from indexer.models.encoder import Encoder
from indexer.pipeline.extractors import Extractor, registered
from indexer.store.catalog import NewVideo
from indexer.types import Segment, ShotCut, Transition, check_sample_every

log = logging.getLogger(__name__)

_HASH_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class IndexOptions:
    """How to sample and embed. ``every`` is seconds between samples (from PTS)."""

    every: float = 0.5
    batch_size: int = 32
    shot_aware: bool = True
    change_threshold: float = 0.2  # see indexer.media.change_gate
    reencode_window: float = 4.0  # seconds; 0 encodes every sampled frame
    thumb_width: int = THUMB_WIDTH  # JPEG thumbnail of every stored frame; 0: none

    def __post_init__(self) -> None:
        check_sample_every(self.every)
        if not 0 <= self.change_threshold <= 1 or self.reencode_window < 0:
            raise ValueError("change threshold must be in [0, 1] and re-encode window >= 0 s")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size!r}")


@dataclass(frozen=True)
class Analysis:
    """Everything indexing learns about one file, ready to commit; picklable, no store handle.

    ``video`` holds the file's facts (hash, size, probe info with the decoded duration,
    sampling interval, damage note); ``times``/``pts``/``vectors`` the stored frames;
    ``thumbnails`` their JPEGs (empty when off); ``extracted`` the registered extractors' results;
    ``transitions`` the fades and dissolves found next to the ``cuts``.
    """

    video: NewVideo
    times: np.ndarray = field(repr=False)  # float64 seconds from the stream start (PTS)
    pts: np.ndarray = field(repr=False)  # int64
    vectors: np.ndarray = field(repr=False)  # float32 (N, dim), rows L2-normalised
    cuts: tuple[ShotCut, ...]
    segments: tuple[Segment, ...]
    thumbnails: tuple[bytes, ...] = field(default=(), repr=False)
    thumb_width: int = 0
    extracted: Mapping[str, Any] = field(default_factory=dict)
    transitions: tuple[Transition, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.times)
        if len(self.pts) != n or len(self.vectors) != n:
            raise ValueError(f"times, pts and vectors differ in length ({n}, {len(self.pts)}, {len(self.vectors)})")
        if self.thumbnails and (len(self.thumbnails) != n or self.thumb_width < 1):
            raise ValueError("thumbnails need one JPEG per frame and a width")


class Progress(Protocol):
    """Receives progress in video-seconds (the CLI wires it to a tqdm bar). Files may be analysed
    in several threads at once: ``advance`` names the file it is about, and may come from any
    thread."""

    def start_file(self, path: Path, duration: float) -> None: ...

    def advance(self, path: Path, seconds: float) -> None: ...


class _NoProgress:
    def start_file(self, path: Path, duration: float) -> None:
        pass

    def advance(self, path: Path, seconds: float) -> None:
        pass


def content_hash(path: Path) -> str:
    """BLAKE2b-160 of the whole file; raises MediaError if it cannot be read."""
    digest = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except PermissionError:
        raise MediaError(path, "permission denied") from None
    except OSError as exc:
        raise MediaError(path, exc.strerror or str(exc)) from None
    return digest.hexdigest()


def analyse_file(path: Path, encoder: Encoder, labels: LabelModel, options: IndexOptions = IndexOptions(),
                 digest: str | None = None) -> Analysis:
    """Analyse ``path`` (a worker's entry point): hash it unless ``digest`` is given, then :class:`Analyser`.

    Raises MediaError for a file that cannot be read or decoded.
    """
    path = Path(path).absolute()
    return Analyser(encoder, labels, options).analyse(path, digest or content_hash(path))


class Analyser:
    """Turns files into :class:`Analysis` values with one encoder and one label model; safe to
    call from several threads at once (encoder runs take turns)."""

    def __init__(self, encoder: Encoder, labels: LabelModel, options: IndexOptions = IndexOptions(),
                 progress: Progress | None = None, exclusive_encoder: bool = True) -> None:
        """``exclusive_encoder=False`` lets analyses in several threads run the encoder at once
        (more compute threads than cores; ``benchmarks/bench_cli.py`` measures both)."""
        self.encoder = encoder
        self.labels = labels
        self.options = options
        self.progress = progress or _NoProgress()
        # one encoder run at a time
        self._encoding = threading.Lock() if exclusive_encoder else contextlib.nullcontext()

    def analyse(self, path: Path, digest: str) -> Analysis:
        """Decode, embed and label ``path`` (whose content hash is ``digest``).

        Raises MediaError for a file that cannot be read or decoded.
        """
        try:
            st = os.stat(path)
        except OSError as exc:
            raise MediaError(path, exc.strerror or str(exc)) from None
        extractors = {name: factory() for name, factory in registered().items()}
        try:
            return self._analyse(path, digest, st, extractors)
        except BaseException:
            for extractor in extractors.values():  # e.g. a worker thread to stop (optional method)
                if callable(close := getattr(extractor, "close", None)):
                    close()
            raise

    def _analyse(self, path: Path, digest: str, st: os.stat_result, extractors: dict[str, Extractor]) -> Analysis:
        """:meth:`analyse` with the extractors made for this file."""
        gate = ChangeGate(self.options.change_threshold, self.options.reencode_window)
        picture_width = max((getattr(e, "picture_width", 0) for e in extractors.values()), default=0)
        scanner = FrameScanner(path, every=self.options.every, image_size=self.encoder.image_size,
                               shot_aware=self.options.shot_aware, gate=gate,
                               thumb_width=self.options.thumb_width, picture_width=picture_width)
        self.progress.start_file(path, scanner.info.duration)
        for extractor in extractors.values():
            extractor.start(scanner.info)
        times, pts, vectors, edits, jpegs = self._embed(scanner, extractors)
        report = scanner.report
        if not times.size:
            raise MediaError(path, "no frame could be decoded")
        duration = max(report.duration, float(times[-1]))
        cuts = [e for e in edits if isinstance(e, ShotCut)]
        transitions = [e for e in edits if isinstance(e, Transition)]
        bounds = sorted([(c.time, c.time) for c in cuts] + [(t.start, t.end) for t in transitions])
        segments = label_segments(self.labels, times, vectors, bounds, duration, self.options.every)
        note = ""
        if report.errors:
            note = (f"{len(report.errors)} decode error(s), about {report.lost_seconds:.1f} s lost; "
                    f"first: {report.errors[0]}")
        video = NewVideo(path=path, content_hash=digest, size=st.st_size, mtime=st.st_mtime,
                         info=dataclasses.replace(scanner.info, duration=duration),
                         sample_every=self.options.every, status="partial" if note else "ok", note=note)
        return Analysis(video, times, pts, vectors, tuple(cuts), tuple(segments), tuple(jpegs),
                        self.options.thumb_width if jpegs else 0,
                        {name: extractor.finish() for name, extractor in extractors.items()},
                        transitions=tuple(transitions))

    def _embed(self, scanner: FrameScanner, extractors: Mapping[str, Extractor],
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[ShotCut | Transition], list[bytes]]:
        """Run the scanner in a producer thread; embed its frames (those its change gate
        admits) in full batches here. Returns (times, pts, vectors), the cuts and transitions,
        and the frames' JPEG thumbnails (empty when thumbnails are off)."""
        times: list[float] = []
        pts: list[int] = []
        chunks: list[np.ndarray] = []
        edits: list[ShotCut | Transition] = []
        batch: list[np.ndarray] = []
        jpegs: list[bytes] = []
        last_time = 0.0
        for item in prefetch(iter(scanner), maxsize=2 * self.options.batch_size):
            if isinstance(item, (ShotCut, Transition)):
                edits.append(item)
                continue
            for extractor in extractors.values():
                extractor.frame(item)
            if not item.encoded:  # a sampled frame the change gate turned away, for extractors only
                continue
            times.append(item.time)
            pts.append(item.pts)
            batch.append(item.image)
            if item.thumbnail is not None:
                jpegs.append(jpeg_bytes(item.thumbnail))
            if len(batch) >= self.options.batch_size:
                chunks.append(self._encode_batch(batch))
                batch = []
            self.progress.advance(scanner.path, max(0.0, item.time - last_time))
            last_time = max(last_time, item.time)
        if batch:
            chunks.append(self._encode_batch(batch))
        self.progress.advance(scanner.path, max(0.0, scanner.report.duration - last_time))
        log.debug("%s: %d frames sampled, %d encoded", scanner.info.path, scanner.sampled, len(times))
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, self.encoder.dim), np.float32)
        return np.array(times, dtype=np.float64), np.array(pts, dtype=np.int64), vectors, edits, jpegs

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        batch = np.stack(images)
        with self._encoding:
            vectors = np.asarray(self.encoder.encode_images(batch), dtype=np.float32)
        if vectors.shape != (len(images), self.encoder.dim):
            raise ValueError(f"encoder returned shape {vectors.shape}, expected ({len(images)}, {self.encoder.dim})")
        return vectors
