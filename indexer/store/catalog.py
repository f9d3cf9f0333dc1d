"""SQLite catalog: the source of truth of the store (videos, frames with embeddings, cuts,
segments, users, audit log).

This module holds the validated records that leave the catalog (:class:`VideoRecord`,
:class:`SegmentRecord`), the input record :class:`NewVideo`, and :class:`Catalog`, one
SQLite connection in WAL mode guarded by a lock. Queries live in
:mod:`indexer.store.queries` and :mod:`indexer.store.segment_queries`; they take the connection a :meth:`Catalog.read` or
:meth:`Catalog.write` block yields.

Threads: one connection is shared by all threads (``check_same_thread=False``); every use
holds :attr:`Catalog.lock`, so a threaded WSGI server serialises its (short) queries. Readers
in other processes see committed transactions only (WAL snapshots), never half of one.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from indexer.errors import StoreError
from indexer.store.migrations import check_version, has_summaries, migrate
from indexer.store.summaries import refresh_coverage
from indexer.types import Segment, VideoInfo, check_sample_every, format_timestamp

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 16_384  # a 512-d float32 embedding (2 KiB) would fill half a 4 KiB page alone
VIDEO_STATUSES = ("ok", "partial")
SEGMENT_SOURCES = ("auto", "curator")
SEGMENT_STATUSES = ("active", "rejected")


def _finite(name: str, value: float, *, minimum: float | None = 0.0) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class NewVideo:
    """What the indexer knows about a file it is about to store.

    ``info.duration`` should already be the duration refined by decoding. Construction
    raises TypeError / ValueError for fields of the wrong type / value.
    """

    path: Path
    content_hash: str
    size: int
    mtime: float
    info: VideoInfo
    sample_every: float
    status: str = "ok"  # "ok" or "partial" (part of the file could not be decoded)
    note: str = ""  # e.g. what was lost in a partial file

    def __post_init__(self) -> None:
        if not isinstance(self.path, Path):
            raise TypeError(f"path must be a pathlib.Path, got {self.path!r}")
        if not isinstance(self.content_hash, str):
            raise TypeError("content_hash must be a string")
        if not self.content_hash:
            raise ValueError("content_hash must not be empty")
        if not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be an int >= 0, got {self.size!r}")
        _finite("mtime", self.mtime, minimum=None)
        if not isinstance(self.info, VideoInfo):
            raise TypeError("info must be a VideoInfo")
        check_sample_every(self.sample_every)
        if self.status not in VIDEO_STATUSES:
            raise ValueError(f"status must be 'ok' or 'partial', got {self.status!r}")
        if not isinstance(self.note, str):
            raise TypeError("note must be a string")


@dataclass(frozen=True)
class VideoRecord:
    """A stored video (one row of ``videos``); times in seconds, ``fps`` exact."""

    id: int
    path: Path
    content_hash: str
    size: int
    mtime: float
    duration: float
    fps: Fraction | None
    width: int
    height: int
    rotation: int
    start_time: float
    codec: str
    sample_every: float
    status: str
    note: str
    indexed_at: float  # unix time

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"video id must be positive, got {self.id!r}")
        _finite("duration", self.duration)
        if self.status not in VIDEO_STATUSES:
            raise ValueError(f"status must be 'ok' or 'partial', got {self.status!r}")

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> VideoRecord:
        """Build a record from a ``SELECT * FROM videos`` row."""
        fps = Fraction(row["fps_num"], row["fps_den"]) if row["fps_num"] else None
        return cls(
            id=row["id"], path=Path(row["path"]), content_hash=row["content_hash"],
            size=row["size"], mtime=row["mtime"], duration=row["duration"], fps=fps,
            width=row["width"], height=row["height"], rotation=row["rotation"],
            start_time=row["start_time"], codec=row["codec"], sample_every=row["sample_every"],
            status=row["status"], note=row["note"], indexed_at=row["indexed_at"],
        )


@dataclass(frozen=True)
class SegmentRecord:
    """A stored segment (one row of ``segments``).

    ``source`` is "auto" (the model) or "curator" (a person accepted, edited, rejected or
    added it); ``status`` is "active" or "rejected". Re-indexing never touches curator rows.
    """

    id: int
    video_id: int
    label: str
    start: float
    end: float
    score: float
    start_uncertainty: float
    end_uncertainty: float
    source: str
    status: str
    created_by: str | None
    updated_at: float  # unix time

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("segment label must not be empty")
        _finite("start", self.start)
        _finite("end", self.end)
        if self.end < self.start:
            raise ValueError(f"segment end {self.end} is before start {self.start}")
        if self.source not in SEGMENT_SOURCES:
            raise ValueError(f"source must be 'auto' or 'curator', got {self.source!r}")
        if self.status not in SEGMENT_STATUSES:
            raise ValueError(f"status must be 'active' or 'rejected', got {self.status!r}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_segment(self) -> Segment:
        """The plain :class:`~indexer.types.Segment` (label, times, score, uncertainty, source)."""
        return Segment(
            label=self.label, start=self.start, end=self.end, score=self.score,
            start_uncertainty=self.start_uncertainty, end_uncertainty=self.end_uncertainty,
            source=self.source,
        )

    def to_dict(self) -> dict:
        """The one JSON shape of a segment: every field plus the boundaries as ``HH:MM:SS.mmm``
        (the audit log, the web API and pages, CLI ``--json``; the web adds its colour)."""
        return {
            "id": self.id, "video_id": self.video_id, "label": self.label, "start": self.start, "end": self.end,
            "start_hms": format_timestamp(self.start), "end_hms": format_timestamp(self.end), "score": self.score,
            "start_uncertainty": self.start_uncertainty, "end_uncertainty": self.end_uncertainty,
            "source": self.source, "status": self.status, "created_by": self.created_by,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SegmentRecord:
        """Build a record from a ``SELECT * FROM segments`` row."""
        return cls(**dict(row))


class Catalog:
    """One SQLite connection to ``catalog.sqlite3`` (WAL, foreign keys on) and its lock.

    Use :meth:`read` for a consistent snapshot across several queries and :meth:`write`
    for one transaction. Both hold :attr:`lock` (re-entrant) for their whole duration; a
    block opened inside another joins the outer transaction.

    Writers commit with ``synchronous=FULL`` (one fsync per transaction, i.e. per video):
    the FAISS file, saved with fsync, can then never hold vectors of frames whose
    transaction a power cut took back, which could otherwise reuse their ids.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool,
                 before_commit: Callable[[sqlite3.Connection], object] | None = None) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()
        self.before_commit = before_commit  # brings the summaries up to date in each transaction

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Catalog:
        """Open (and, when writable, create and migrate) the catalog at ``path``.

        Raises:
            StoreError: the file is missing (read-only), not a catalog, newer than this code,
                or needs a migration a reader may not apply.
        """
        if readonly and not path.is_file():
            raise StoreError(f"no index at {path.parent}; run `reelsearch index` first")
        try:
            uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if readonly:
                conn.execute("PRAGMA query_only = ON")
                check_version(conn, writable=False)
            else:
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # new files only
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")  # see Catalog docstring
                version = migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the catalog {path}: {exc}") from exc
        summarised = False if readonly else has_summaries(version)
        return cls(conn, path, readonly, refresh_coverage if summarised else None)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed snapshot."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); rolled back if the block raises.

        Raises:
            StoreError: the catalog was opened read-only.
        """
        if self.readonly:
            raise StoreError("the index was opened read-only; open it for writing to change it")
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                if self.before_commit is not None:
                    self.before_commit(self.conn)
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self.lock:
            self.conn.close()
