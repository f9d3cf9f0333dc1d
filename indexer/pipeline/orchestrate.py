"""Indexing files into the store: discover -> skip unchanged / follow renames -> analyse -> commit.

:class:`Indexer` decides per file what needs doing; the work itself is the pure
:class:`~indexer.pipeline.analysis.Analyser` followed by :func:`~indexer.pipeline.commit.commit`
(run here, by the single writer). One bad file never stops a batch: it becomes a
``FileResult`` with status ``failed`` and a reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from indexer.errors import MediaError
from indexer.labels.classify import LabelModel
from indexer.store.coverage import covered_seconds, label_tree, video_coverage
from indexer.media.discover import discover
from indexer.models.encoder import Encoder
from indexer.pipeline.analysis import Analyser, Analysis, IndexOptions, Progress, content_hash
from indexer.pipeline.commit import commit
from indexer.store import Store

log = logging.getLogger(__name__)

__all__ = ["FileResult", "IndexOptions", "Indexer", "Work", "committed", "content_hash", "prune_missing", "triage"]


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
    words: str = ""  # what on-screen text / speech recognition found, or why there is none

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class Indexer:
    """Indexes files into a Store with one encoder and one label model."""

    def __init__(self, store: Store, encoder: Encoder, labels: LabelModel,
                 options: IndexOptions = IndexOptions(), progress: Progress | None = None) -> None:
        self.store = store
        self.labels = labels
        self.options = options
        self.progress = progress
        self.analyser = Analyser(encoder, labels, options, progress)

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
        decision = triage(self.store, path)
        if isinstance(decision, FileResult):
            return decision
        return self._analyse_and_commit(path, decision.digest, decision.status)

    def _analyse_and_commit(self, path: Path, digest: str, status: str) -> FileResult:
        return committed(self.store, self.labels, path, status, self.analyser.analyse(path, digest))


@dataclass(frozen=True)
class Work:
    """A file that needs analysing: its content hash and whether it is new or changed."""

    digest: str
    status: str  # indexed or reindexed


def triage(store: Store, path: Path) -> FileResult | Work:
    """Decide about ``path`` (absolute) without analysing it: a FileResult when it is unchanged
    (same size and mtime, else same content hash) or renamed (its content is stored under a path
    that is gone; the store follows it), else the :class:`Work` to do.

    Raises: MediaError (the file cannot be read).
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise MediaError(path, exc.strerror or str(exc)) from None
    existing = store.video_by_path(path)
    if existing and existing.size == st.st_size and existing.mtime == st.st_mtime:
        return FileResult(path, "skipped", "unchanged", existing.id, existing.duration)
    digest = content_hash(path)
    if existing and existing.content_hash == digest:
        store.rename_video(existing.id, path, st.st_mtime)  # touch: same content
        return FileResult(path, "skipped", "unchanged", existing.id, existing.duration)
    if existing is None:
        moved = next((v for v in store.videos_by_hash(digest) if not v.path.exists()), None)
        if moved is not None:
            store.rename_video(moved.id, path, st.st_mtime)
            return FileResult(path, "renamed", f"was {moved.path}", moved.id, moved.duration)
    return Work(digest, "reindexed" if existing else "indexed")


def committed(store: Store, labels: LabelModel, path: Path, status: str, analysis: Analysis) -> FileResult:
    """Commit ``analysis`` (one transaction) and describe it: labels on screen, longest first."""
    video_id = commit(store, analysis)
    present = video_coverage(store.segments(video_id, include_rejected=True), label_tree(labels.labels))
    top = tuple(sorted(((label, covered_seconds(pieces)) for label, pieces in present.items()),
                       key=lambda item: (-item[1], item[0]))[:5])
    note = analysis.video.note
    return FileResult(path, status, note, video_id, analysis.video.info.duration, len(analysis.times),
                      partial=bool(note), labels=top, words=words_summary(analysis.extracted))


def words_summary(extracted: Mapping[str, Any]) -> str:
    """``3 on-screen lines, 12 spoken words`` / ``no speech (no audio track)`` ('' if words are off)."""
    parts = []
    text = extracted.get("text")
    if text is not None:
        parts.append(f"{len(text.spans)} on-screen line{'s' * (len(text.spans) != 1)}")
    speech = extracted.get("speech")
    if speech is not None:
        n = speech.word_count
        parts.append(f"no speech ({speech.note})" if speech.note else f"{n} spoken word{'s' * (n != 1)}")
    return ", ".join(parts)


def prune_missing(store: Store, keep: Callable[[Path], bool] = lambda p: p.exists()) -> list[Path]:
    """Forget indexed videos whose file is gone (or for which ``keep`` is False)."""
    removed = []
    for video in store.list_videos():
        if not keep(video.path):
            store.delete_video(video.id)  # thumbnails included
            removed.append(video.path)
    return removed
