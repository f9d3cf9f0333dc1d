"""Which video a frame id belongs to, from the videos' frame-id ranges.

A video's frames are one range of ids (``videos.first_frame``, ``videos.frame_count``; see
:mod:`indexer.store.summaries`), so the whole map is one row per video, not per frame: at 10k
videos it is read in a few milliseconds, kept per process and re-read only when the catalog's
``generation`` (bumped by every change to the frames) moves.
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np

from indexer.store import queries as q


class VideoRanges:
    """``videos_of(conn, frame_ids)``: the video id of each frame id, from a cached range table."""

    def __init__(self) -> None:
        self._generation = -1
        self._firsts = np.zeros(0, np.int64)
        self._ends = np.zeros(0, np.int64)
        self._videos = np.zeros(0, np.int64)
        self._lock = threading.Lock()

    def videos_of(self, conn: sqlite3.Connection, frame_ids: np.ndarray) -> np.ndarray:
        """Video id of each of ``frame_ids`` as of the snapshot ``conn`` reads (-1: no such frame)."""
        frame_ids = np.asarray(frame_ids, dtype=np.int64)
        with self._lock:
            generation = q.generation(conn)
            if generation != self._generation:
                self._load(conn)
                self._generation = generation
            firsts, ends, videos = self._firsts, self._ends, self._videos
        at = np.searchsorted(firsts, frame_ids, side="right") - 1
        safe = np.maximum(at, 0)
        inside = (at >= 0) & (frame_ids < ends[safe]) if len(firsts) else np.zeros(len(frame_ids), bool)
        return np.where(inside, videos[safe] if len(videos) else -1, -1)

    def _load(self, conn: sqlite3.Connection) -> None:
        rows = np.array(conn.execute("SELECT first_frame, frame_count, id FROM videos WHERE frame_count > 0 "
                                     "ORDER BY first_frame").fetchall(), dtype=np.int64).reshape(-1, 3)
        self._firsts, self._ends, self._videos = rows[:, 0], rows[:, 0] + rows[:, 1], rows[:, 2]
