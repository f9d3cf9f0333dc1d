"""Keeping the FAISS file, the in-memory index and the catalog in step (used by
:mod:`indexer.store`): :class:`VectorFile` owns the index, the file's identity, the catalog
generation the index covers and the single-writer lock; :class:`CatalogFrames` shows a
catalog snapshot as a :class:`~indexer.store.vectors.FrameSource`.

The catalog's ``meta.generation`` is bumped by every transaction that adds or removes
frames; an index that covers the current generation needs no work, so :meth:`VectorFile.sync`
costs one query and one ``stat`` when nothing changed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from indexer.store import queries as q
from indexer.store.catalog import Catalog
from indexer.store.queries import FrameStats
from indexer.errors import StoreError
from indexer.store.vectors import VectorIndex, file_signature

log = logging.getLogger(__name__)

SAVE_SPACING = 20  # a writer saves the index at most once per this many times the last save took


class CatalogFrames:
    """The frames of one catalog snapshot (a ``Catalog.read()`` connection) as a FrameSource."""

    def __init__(self, conn: sqlite3.Connection, dim: int) -> None:
        self.conn = conn
        self.dim = dim

    def stats(self) -> FrameStats:
        return q.frame_stats(self.conn)

    def all_ids(self) -> np.ndarray:
        return q.all_frame_ids(self.conn)

    def vectors(self, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return q.frame_vectors(self.conn, ids, self.dim)

    def vectors_after(self, after_id: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return q.frames_after(self.conn, after_id, self.dim)


class WriterLock:
    """An exclusive ``flock`` on ``<data_dir>/writer.lock``: one process at a time writes
    frames and the FAISS file. Released by :meth:`release` or when the process dies (so a
    kill -9 never leaves a stale lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.0) -> bool:
        """Try to take the lock, polling for up to ``wait`` seconds; return whether it is held."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def remove_stale_temps(vectors_path: Path) -> None:
    """Delete temp files left by a writer killed while saving (call with the lock held)."""
    temps = [*vectors_path.parent.glob(f"{vectors_path.name}.tmp-*"),
             *vectors_path.parent.glob(f"{vectors_path.name}.ids.npy.tmp-*")]  # the id list's
    for tmp in temps:
        log.info("removing %s left by an interrupted save", tmp)
        tmp.unlink(missing_ok=True)


class VectorFile:
    """The vector index of a store and the file it is saved in.

    Not locked itself: callers hold the catalog's lock.
    """

    def __init__(self, path: Path, lock_path: Path, catalog: Catalog) -> None:
        self.path = path
        self.catalog = catalog
        self.readonly = catalog.readonly
        self.index: VectorIndex | None = None
        self.writer = WriterLock(lock_path)
        self._sig: tuple[int, int, int] | None = None
        self._generation = -1
        self._dirty = False
        self._unsaved_videos = 0
        self._last_save = time.monotonic()
        self._save_seconds = 0.0  # how long the last save took

    def _read(self, dim: int, *, mmap: bool) -> VectorIndex:
        """The index in the file (an unreadable one is replaced by an empty index that the
        next sync fills from the catalog)."""
        self._sig, self._generation = file_signature(self.path), -1
        if self._sig is not None:
            try:
                return VectorIndex.load(self.path, dim, mmap=mmap)
            except StoreError as exc:
                log.warning("%s; rebuilding the vector index from the catalog", exc)
        return VectorIndex(dim)

    def ensure(self) -> VectorIndex | None:
        """The index, loaded on first use for the encoder dim recorded in the catalog and
        synced with it; None while no encoder is bound."""
        if self.index is None:
            with self.catalog.read() as conn:
                dim = q.get_meta(conn, "encoder_dim")
            if dim is None:
                return None
            self.index = self._read(int(dim), mmap=self.readonly)
            self.sync()
        return self.index

    def sync(self) -> bool:
        """Bring the index up to the catalog's latest snapshot (reloading the file first if
        another process replaced it); return whether anything changed."""
        if self.index is None:
            return False
        with self.catalog.read() as conn:
            generation = q.generation(conn)  # the snapshot starts here
            replaced = False
            if not self.writer.held and file_signature(self.path) not in (self._sig, None):
                self.index, replaced = self._read(self.index.dim, mmap=self.readonly), True
            if generation == self._generation:
                return replaced
            report = self.index.reconcile(CatalogFrames(conn, self.index.dim))
            self._generation = generation
        changed = bool(report.added or report.removed)
        self._dirty |= changed
        return replaced or changed

    def become_writer(self, wait: float) -> VectorIndex:
        """Take the writer lock (once, held until :meth:`release`) and catch up.

        Raises:
            StoreError: read-only, no encoder bound yet, or another process is writing.
        """
        if self.readonly:
            raise StoreError("the index was opened read-only; open it for writing to change it")
        if self.ensure() is None:
            raise StoreError("bind_encoder() must be called before vectors are written")
        if not self.writer.held:
            if not self.writer.acquire(wait=wait):
                raise StoreError(f"another process is writing to {self.path.parent}; "
                                 "wait for it to finish")
            remove_stale_temps(self.path)
            if file_signature(self.path) != self._sig or not self.index.mutable:
                self.index = self._read(self.index.dim, mmap=False)
            self.sync()
        return self.index

    def changed(self, generation: int, *, videos: int = 1) -> None:
        """Record that the writer applied the catalog change ``generation`` to the index."""
        self._generation = generation
        self._dirty = True
        self._unsaved_videos += videos

    def invalidate(self) -> None:
        """Force the next sync to compare with the catalog (after a failed index update)."""
        self._generation = -1

    def save(self) -> None:
        """Write the index atomically and remember the new file's identity."""
        began = time.monotonic()
        self.index.save(self.path)
        self._sig = file_signature(self.path)
        self._dirty, self._unsaved_videos, self._last_save = False, 0, time.monotonic()
        self._save_seconds = self._last_save - began

    def flush(self, *, every_videos: int = 0, every_seconds: float = 0.0) -> bool:
        """Save if this process holds the writer lock, has unsaved changes, (when given)
        ``every_videos`` videos or ``every_seconds`` seconds have passed, and at least
        :data:`SAVE_SPACING` times as long as the last save took (a save rewrites the whole
        index, so a big index is saved less often: saving stays a small share of the writer's
        time; a crash in between costs reading those vectors back from the catalog at the next
        open); return whether saved."""
        if not (self.writer.held and self._dirty):
            return False
        since = time.monotonic() - self._last_save
        due = ((self._unsaved_videos >= every_videos or since >= every_seconds)
               and since >= SAVE_SPACING * self._save_seconds)
        if due:
            self.save()
        return due

    def close(self) -> None:
        """Save unsaved changes — this writer's, or repairs a sync made — unless another
        process holds the writer lock, then release the lock.

        Raises: StoreError if the save fails (the lock is released anyway).
        """
        try:
            if self._dirty and not self.readonly and self.writer.acquire(wait=0):
                remove_stale_temps(self.path)
                self.save()
        finally:
            self.writer.release()
