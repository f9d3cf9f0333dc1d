"""The indexing pipeline: discover -> decode & sample -> embed in batches -> label -> store.

Decoding runs in a producer thread that feeds a bounded queue while the main thread embeds
full batches, so the decoder and the encoder overlap (both release the GIL). A change gate
(indexer.media.change_gate) spends encodes where content changes: every shot, then on change. One bad file
never stops a batch: it becomes a ``FileResult`` with status ``failed`` and a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
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
from indexer.types import ShotCut

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
        """Index every video under ``paths``; yield one FileResult per file or bad path."""
        for item in discover(paths):
            if isinstance(item, MediaError):
                yield FileResult(item.path.absolute(), "failed", item.reason)
                continue
            yield self.index_file(item)

    def index_file(self, path: Path) -> FileResult:
        """Index one file (skip if unchanged, follow a rename); never raises for bad media."""
        started = time.perf_counter()
        path = path.absolute()
        try:
            result = self._index_file(path)
        except MediaError as exc:
            log.info("skipping %s", exc)
            return FileResult(path, "failed", exc.reason)
        except Exception as exc:  # a decoder/library bug must not stop the batch
            log.warning("skipping %s: unexpected error", path, exc_info=True)
            return FileResult(path, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
        return FileResult(**{**result.__dict__, "wall_seconds": time.perf_counter() - started})

    def _index_file(self, path: Path) -> FileResult:
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
        result = self._encode_file(path, st, digest, "reindexed" if existing else "indexed")
        if existing is not None:  # the old version's pictures
            remove_thumbnails(self.store.thumbs_dir, existing.id, existing.content_hash)
        return result

    def _encode_file(self, path: Path, st, digest: str, status: str) -> FileResult:
        gate = ChangeGate(self.options.change_threshold, self.options.reencode_window)
        scanner = FrameScanner(path, every=self.options.every, image_size=self.encoder.image_size,
                               shot_aware=self.options.shot_aware, gate=gate,
                               thumb_width=self.options.thumb_width)
        self.progress.start_file(path, scanner.info.duration)
        times, pts, vectors, cuts, jpegs = self._embed(scanner)
        report = scanner.report
        if not times.size:
            raise MediaError(path, "no frame could be decoded")
        duration = max(report.duration, float(times[-1]))
        cut_times = [c.time for c in cuts]
        segments = label_segments(self.labels, times, vectors, cut_times, duration, self.options.every)
        note = ""
        if report.errors:
            note = (f"{len(report.errors)} decode error(s), about {report.lost_seconds:.1f} s lost; "
                    f"first: {report.errors[0]}")
        record = NewVideo(path=path, content_hash=digest, size=st.st_size, mtime=st.st_mtime,
                          info=dataclasses.replace(scanner.info, duration=duration),
                          sample_every=self.options.every, status="partial" if note else "ok", note=note)
        video_id = self.store.write_video(record, times, pts, vectors, cuts, segments)
        if jpegs:
            save_thumbnails(self.store.thumbs_dir, video_id, digest, times.tolist(), jpegs,
                            self.options.thumb_width)
        present = video_coverage(self.store.segments(video_id, include_rejected=True),
                                 label_tree(self.labels.labels))
        top = tuple(sorted(((label, covered_seconds(pieces)) for label, pieces in present.items()),
                           key=lambda item: (-item[1], item[0]))[:5])
        return FileResult(path, status, note, video_id, duration, int(times.size), partial=bool(note), labels=top)

    def _embed(self, scanner: FrameScanner) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[ShotCut], list[bytes]]:
        """Run the scanner in a producer thread; embed its frames (those its change gate
        admits) in full batches here. Returns (times, pts, vectors), the cuts and the
        frames' JPEG thumbnails (empty when thumbnails are off)."""
        times: list[float] = []
        pts: list[int] = []
        chunks: list[np.ndarray] = []
        cuts: list[ShotCut] = []
        batch: list[np.ndarray] = []
        jpegs: list[bytes] = []
        last_time = 0.0
        for item in prefetch(iter(scanner), maxsize=2 * self.options.batch_size):
            if isinstance(item, ShotCut):
                cuts.append(item)
                continue
            times.append(item.time)
            pts.append(item.pts)
            batch.append(item.image)
            if item.thumbnail is not None:
                jpegs.append(jpeg_bytes(item.thumbnail))
            if len(batch) >= self.options.batch_size:
                chunks.append(self._encode_batch(batch))
                batch = []
            self.progress.advance(max(0.0, item.time - last_time))
            last_time = max(last_time, item.time)
        if batch:
            chunks.append(self._encode_batch(batch))
        self.progress.advance(max(0.0, scanner.report.duration - last_time))
        log.debug("%s: %d frames sampled, %d encoded", scanner.info.path, scanner.sampled, len(times))
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, self.encoder.dim), np.float32)
        return np.array(times, dtype=np.float64), np.array(pts, dtype=np.int64), vectors, cuts, jpegs

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
