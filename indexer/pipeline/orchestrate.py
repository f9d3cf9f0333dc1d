"""The indexing pipeline: discover -> decode & sample -> embed in batches -> label -> store.

Decoding runs in a producer thread that feeds a bounded queue while the main thread embeds
full batches, so the decoder and the encoder overlap (both release the GIL), and it runs over
all files in turn (:mod:`indexer.pipeline.scanning`): the next file is decoded while this one's
last batch is embedded, labelled and stored, so many short ads keep both cores busy. A change gate
(indexer.media.change_gate) spends encodes where content changes: every shot, then on change. One bad file
never stops a batch: it becomes a ``FileResult`` with status ``failed`` and a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from indexer.media.change_gate import ChangeGate
from indexer.labels.classify import LabelModel
from indexer.media.discover import discover
from indexer.models.encoder import Encoder
from indexer.errors import MediaError
from indexer.media.frames import FrameScanner
from indexer.media.prefetch import prefetch
from indexer.labels.coverage import covered_seconds, label_tree, video_coverage
from indexer.labels.segments import label_segments
from indexer.store.facade import NewVideo, Store
from indexer.media.thumbnails import THUMB_WIDTH, jpeg_bytes, remove_thumbnails, save_thumbnails
from indexer.pipeline.scanning import FileEnd, FileFailed, FileStart, Planned, scan_files
from indexer.types import SampledFrame, ShotCut

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
        if not self.every > 0:
            raise ValueError(f"sampling interval must be > 0 seconds, got {self.every!r}")
        if not 0 <= self.change_threshold <= 1 or self.reencode_window < 0:
            raise ValueError("change threshold must be in [0, 1] and re-encode window >= 0 s")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size!r}")


@dataclass(frozen=True)
class FileResult:
    """What happened to one file. ``status``: indexed, reindexed, skipped, renamed or failed."""

    path: Path
    status: str
    reason: str = ""
    video_id: int | None = None
    video_seconds: float = 0.0
    frames: int = 0
    wall_seconds: float = 0.0
    partial: bool = False
    labels: tuple[tuple[str, float], ...] = ()  # (label, seconds on screen), longest first

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class Progress(Protocol):
    """Receives progress in video-seconds (the CLI wires it to a tqdm bar)."""

    def start_file(self, path: Path, duration: float) -> None: ...

    def advance(self, seconds: float) -> None: ...


class _NoProgress:
    def start_file(self, path: Path, duration: float) -> None:
        pass

    def advance(self, seconds: float) -> None:
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


@dataclass
class _Encoding:
    """What the main thread has of the file being encoded."""

    start: FileStart
    times: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    batch: list[np.ndarray] = field(default_factory=list)
    chunks: list[np.ndarray] = field(default_factory=list)
    cuts: list[ShotCut] = field(default_factory=list)
    jpegs: list[bytes] = field(default_factory=list)
    last_time: float = 0.0
    error: str = ""


class Indexer:
    """Indexes files into a Store with one encoder and one label model."""

    def __init__(self, store: Store, encoder: Encoder, labels: LabelModel,
                 options: IndexOptions = IndexOptions(), progress: Progress | None = None) -> None:
        self.store = store
        self.encoder = encoder
        self.labels = labels
        self.options = options
        self.progress = progress or _NoProgress()

    def index_paths(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        """Index every video under ``paths``; yield one FileResult per file or bad path, in order."""
        return self._run(discover(paths))

    def index_file(self, path: Path) -> FileResult:
        """Index one file (skip if unchanged, follow a rename); never raises for bad media."""
        return next(self._run([Path(path)]))

    def _run(self, items: Iterable[Path | MediaError]) -> Iterator[FileResult]:
        """Decode (a producer thread, file after file) while embedding, labelling and storing here."""
        stream = prefetch(scan_files(items, self._plan, self._scanner), maxsize=2 * self.options.batch_size)
        current: _Encoding | None = None
        for item in stream:
            if isinstance(item, FileResult):
                yield item
            elif isinstance(item, FileStart):
                current = _Encoding(item)
                self.progress.start_file(item.path, item.scanner.info.duration)
            elif isinstance(item, FileFailed):
                current = None
                yield FileResult(item.path, "failed", item.reason, wall_seconds=time.perf_counter() - item.started)
            elif isinstance(item, FileEnd):
                yield self._finish(current)
                current = None
            elif current is not None:
                self._take(current, item)

    def _plan(self, path: Path) -> FileResult | Planned:
        """Skip an unchanged file, follow a renamed one, else plan its encoding. Raises MediaError."""
        try:
            st = path.stat()
        except OSError as exc:
            raise MediaError(path, exc.strerror or str(exc)) from None
        existing = self.store.video_by_path(path)
        if existing and existing.size == st.st_size and existing.mtime == st.st_mtime:
            return FileResult(path, "skipped", "unchanged", existing.id, existing.duration)
        digest = content_hash(path)
        if existing and existing.content_hash == digest:
            self.store.rename_video(existing.id, path, st.st_mtime)  # touch: same content
            return FileResult(path, "skipped", "unchanged", existing.id, existing.duration)
        if existing is None:
            moved = next((v for v in self.store.videos_by_hash(digest) if not v.path.exists()), None)
            if moved is not None:
                self.store.rename_video(moved.id, path, st.st_mtime)
                return FileResult(path, "renamed", f"was {moved.path}", moved.id, moved.duration)
        return Planned(st, digest, "reindexed" if existing else "indexed", existing)

    def _scanner(self, path: Path) -> FrameScanner:
        gate = ChangeGate(self.options.change_threshold, self.options.reencode_window)
        return FrameScanner(path, every=self.options.every, image_size=self.encoder.image_size,
                            shot_aware=self.options.shot_aware, gate=gate, thumb_width=self.options.thumb_width)

    def _take(self, file: _Encoding, item: SampledFrame | ShotCut) -> None:
        """Add a cut or a sampled frame of the current file; embed a full batch."""
        if file.error:
            return
        if isinstance(item, ShotCut):
            file.cuts.append(item)
            return
        file.times.append(item.time)
        file.pts.append(item.pts)
        file.batch.append(item.image)
        if item.thumbnail is not None:
            file.jpegs.append(jpeg_bytes(item.thumbnail))
        try:
            if len(file.batch) >= self.options.batch_size:
                file.chunks.append(self._encode_batch(file.batch))
                file.batch = []
        except Exception as exc:  # the model failed on this file: report it, go on with the next
            log.warning("skipping %s: encoding failed", file.start.path, exc_info=True)
            file.error = f"unexpected error: {type(exc).__name__}: {exc}"
        self.progress.advance(max(0.0, item.time - file.last_time))
        file.last_time = max(file.last_time, item.time)

    def _finish(self, file: _Encoding | None) -> FileResult:
        """Embed the last batch, label and store the file; a failed file becomes a failed result."""
        assert file is not None, "a file ended that never started"
        path = file.start.path
        try:
            if file.error:
                raise MediaError(path, file.error)
            result = self._store(file)
        except MediaError as exc:
            log.info("skipping %s", exc)
            result = FileResult(path, "failed", exc.reason)
        except Exception as exc:  # labels/store bug: the batch goes on
            log.warning("skipping %s: unexpected error", path, exc_info=True)
            result = FileResult(path, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
        return dataclasses.replace(result, wall_seconds=time.perf_counter() - file.start.started)

    def _store(self, file: _Encoding) -> FileResult:
        scanner, plan, path = file.start.scanner, file.start.plan, file.start.path
        if file.batch:
            file.chunks.append(self._encode_batch(file.batch))
        report = scanner.report
        self.progress.advance(max(0.0, report.duration - file.last_time))
        times, pts = np.array(file.times, dtype=np.float64), np.array(file.pts, dtype=np.int64)
        if not times.size:
            raise MediaError(path, "no frame could be decoded")
        vectors = np.concatenate(file.chunks)
        log.debug("%s: %d frames sampled, %d encoded", path, scanner.sampled, len(times))
        duration = max(report.duration, float(times[-1]))
        segments = label_segments(self.labels, times, vectors, [c.time for c in file.cuts], duration,
                                  self.options.every)
        note = ""
        if report.errors:
            note = (f"{len(report.errors)} decode error(s), about {report.lost_seconds:.1f} s lost; "
                    f"first: {report.errors[0]}")
        record = NewVideo(path=path, content_hash=plan.digest, size=plan.st.st_size, mtime=plan.st.st_mtime,
                          info=dataclasses.replace(scanner.info, duration=duration),
                          sample_every=self.options.every, status="partial" if note else "ok", note=note)
        video_id = self.store.write_video(record, times, pts, vectors, file.cuts, segments)
        if file.jpegs:
            save_thumbnails(self.store.thumbs_dir, video_id, plan.digest, times.tolist(), file.jpegs,
                            self.options.thumb_width)
        if plan.existing is not None:  # the old version's pictures
            remove_thumbnails(self.store.thumbs_dir, plan.existing.id, plan.existing.content_hash)
        present = video_coverage(self.store.segments(video_id, include_rejected=True),
                                 label_tree(self.labels.labels))
        top = tuple(sorted(((label, covered_seconds(pieces)) for label, pieces in present.items()),
                           key=lambda item: (-item[1], item[0]))[:5])
        return FileResult(path, plan.status, note, video_id, duration, int(times.size), partial=bool(note), labels=top)

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        vectors = np.asarray(self.encoder.encode_images(np.stack(images)), dtype=np.float32)
        if vectors.shape != (len(images), self.encoder.dim):
            raise ValueError(f"encoder returned shape {vectors.shape}, expected ({len(images)}, {self.encoder.dim})")
        return vectors


def prune_missing(store: Store, keep: Callable[[Path], bool] = lambda p: p.exists()) -> list[Path]:
    """Forget indexed videos whose file is gone (or for which ``keep`` is False)."""
    removed = []
    for video in store.list_videos():
        if not keep(video.path):
            store.delete_video(video.id)
            remove_thumbnails(store.thumbs_dir, video.id, video.content_hash)
            removed.append(video.path)
    return removed
