"""Indexing files into the store: discover -> skip unchanged / follow renames -> analyse -> commit.

:class:`Indexer` decides per file what needs doing; the work itself is the pure
:class:`~indexer.pipeline.analysis.Analyser` followed by :func:`~indexer.pipeline.commit.commit`
(run here, by the single writer). Files overlap: the next file is decoded and scanned in a worker
thread while this one's frames are encoded (:data:`FILES_IN_FLIGHT` analyses at most), and the
store stays with the calling thread, which triages and commits in input order. One bad file
never stops a batch: it becomes a ``FileResult`` with status ``failed`` and a reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
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

__all__ = ["FILES_IN_FLIGHT", "FileResult", "IndexOptions", "Indexer", "Work", "committed", "content_hash",
           "prune_missing", "triage"]

#: Analyses in flight at most while indexing many files: the one being encoded and the next one
#: being decoded (more would only add memory on two cores). 1 analyses file after file.
FILES_IN_FLIGHT = 2


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
    """Indexes files into a Store with one encoder and one label model.

    ``files_in_flight`` bounds the analyses running at once in :meth:`index_paths` (1: none
    overlap). The store is used only by the thread that iterates :meth:`index_paths`.
    """

    def __init__(self, store: Store, encoder: Encoder, labels: LabelModel,
                 options: IndexOptions = IndexOptions(), progress: Progress | None = None,
                 files_in_flight: int = FILES_IN_FLIGHT) -> None:
        if files_in_flight < 1:
            raise ValueError(f"files in flight must be >= 1, got {files_in_flight!r}")
        self.store = store
        self.labels = labels
        self.options = options
        self.progress = progress
        self.files_in_flight = files_in_flight
        self.analyser = Analyser(encoder, labels, options, progress)

    def index_paths(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        """Index every video under ``paths``; yield one FileResult per file or bad path, in order.

        Triage and commits run here, in input order (one transaction per video); analyses run in
        worker threads, at most ``files_in_flight`` at once, so the next file decodes while this
        one encodes.
        """
        pending: deque[_Pending] = deque()
        for item in discover(paths):
            pending.append(self._start(item))
            while pending and (pending[0].done() or _in_flight(pending) >= self.files_in_flight):
                yield self._finish(pending.popleft())
        while pending:
            yield self._finish(pending.popleft())

    def index_file(self, path: Path) -> FileResult:
        """Index one file (skip if unchanged, follow a rename); never raises for bad media."""
        return self._finish(self._start(Path(path), inline=True))

    def _start(self, item: Path | MediaError, inline: bool = False) -> "_Pending":
        """Triage ``item`` here; start its analysis (in a worker thread unless ``inline`` or only
        one file may be in flight) if it needs one."""
        started = time.perf_counter()
        if isinstance(item, MediaError):
            path = item.path.absolute()
            return _Pending(path, started, outcome=FileResult(path, "failed", item.reason))
        path = item.absolute()
        try:
            decision = triage(self.store, path)
        except Exception as exc:  # MediaError, or a library bug that must not stop the batch
            return _Pending(path, started, outcome=_failure(path, exc))
        if isinstance(decision, FileResult):
            return _Pending(path, started, outcome=decision)
        run = _run_inline if inline or self.files_in_flight == 1 else _run_in_thread
        return _Pending(path, started, decision.status, run(self.analyser.analyse, path, decision.digest))

    def _finish(self, pending: "_Pending") -> FileResult:
        """Wait for ``pending``'s analysis and commit it here; a failure becomes a failed FileResult."""
        result = pending.outcome
        if result is None:
            assert pending.analysis is not None
            try:
                result = committed(self.store, self.labels, pending.path, pending.status,
                                   pending.analysis.result())
            except Exception as exc:  # MediaError, or a decoder/library bug that must not stop the batch
                result = _failure(pending.path, exc)
        if not result.failed:
            result = FileResult(**{**result.__dict__, "wall_seconds": time.perf_counter() - pending.started})
        return result


@dataclass(frozen=True)
class _Pending:
    """A file on its way through :meth:`Indexer.index_paths`: its result, or its analysis running."""

    path: Path
    started: float
    status: str = ""
    analysis: Future | None = None
    outcome: FileResult | None = None

    def done(self) -> bool:
        return self.analysis is None or self.analysis.done()


def _in_flight(pending: Iterable[_Pending]) -> int:
    return sum(p.analysis is not None for p in pending)


def _failure(path: Path, exc: Exception) -> FileResult:
    """The one-line FileResult of a file that could not be indexed (logged)."""
    if isinstance(exc, MediaError):
        log.info("skipping %s", exc)
        return FileResult(path, "failed", exc.reason)
    log.warning("skipping %s: unexpected error", path, exc_info=exc)
    return FileResult(path, "failed", f"unexpected error: {type(exc).__name__}: {exc}")


def _run_inline(fn: Callable[..., Analysis], *args: Any) -> Future:
    """Run ``fn`` now, in this thread; its value or error in a finished Future."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


def _run_in_thread(fn: Callable[..., Analysis], *args: Any) -> Future:
    """Run ``fn`` in a daemon thread (an interrupted command does not wait for it); its value or
    error arrives in the returned Future."""
    future: Future = Future()

    def work() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the committing thread
            future.set_exception(exc)

    threading.Thread(target=work, name="reelsearch-analyse", daemon=True).start()
    return future


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
