"""Frame ids grouped by video, kept in memory for searches restricted to some videos.

Reading the ids of hundreds of videos from SQLite on every filtered query costs tens of
milliseconds at a million frames; this table loads them once and reloads only when the
catalog's ``generation`` (bumped by every change to the frames) moves.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Iterable

import numpy as np

from indexer.store import queries as q
class VideoFrameIds:
    """``subset(conn, video_ids)``: the sorted frame ids of those videos, from a cached table."""

    def __init__(self) -> None:
        self._generation = -1
        self._ids = np.zeros(0, np.int64)
        self._spans: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def subset(self, conn: sqlite3.Connection, video_ids: Iterable[int]) -> np.ndarray:
        """Sorted frame ids of ``video_ids`` as of the snapshot ``conn`` reads."""
        with self._lock:
            generation = q.generation(conn)
            if generation != self._generation:
                self._load(conn)
                self._generation = generation
            parts = [self._ids[a:b] for a, b in (self._spans.get(int(v), (0, 0)) for v in video_ids) if b > a]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def _load(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT video_id, id FROM frames ORDER BY video_id, id")
        table = np.fromiter((tuple(r) for r in rows), dtype=np.dtype([("video", np.int64), ("id", np.int64)]))
        videos, starts = np.unique(table["video"], return_index=True)
        ends = np.append(starts[1:], len(table))
        self._ids = table["id"].copy()
        self._spans = {int(v): (int(a), int(b)) for v, a, b in zip(videos, starts, ends)}
