"""Queries over the catalog; each takes the connection of a :class:`~indexer.store.catalog.Catalog`
``read()``/``write()`` block, so several of them share one snapshot or one transaction.

Embeddings are stored as little-endian float32 BLOBs in ``frames.embedding``; frame ids are
``AUTOINCREMENT`` row ids (never reused), which are also the ids of the FAISS index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from indexer.store.catalog import NewVideo, VideoRecord
from indexer.store.summaries import counters, sample_keys
from indexer.errors import NotFoundError, StoreError
from indexer.types import ShotCut, Transition

ID_CHUNK = 50_000  # ids per json_each() parameter / rows per vector batch


@dataclass(frozen=True)
class FrameStats:
    """Count, largest id and sum of ids of a set of frame ids: equal stats => same set
    (in practice; a full id comparison settles any doubt)."""

    count: int
    max_id: int
    id_sum: int

    @classmethod
    def of(cls, ids: np.ndarray) -> FrameStats:
        if len(ids) == 0:
            return cls(0, 0, 0)
        return cls(len(ids), int(ids.max()), int(ids.sum(dtype=np.int64)))


# --- meta -------------------------------------------------------------------------------

def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def generation(conn: sqlite3.Connection) -> int:
    """The change counter of frames: bumped by every transaction that adds/removes frames."""
    return int(get_meta(conn, "generation") or 0)


def bump_generation(conn: sqlite3.Connection) -> int:
    value = generation(conn) + 1
    set_meta(conn, "generation", str(value))
    return value


# --- videos -----------------------------------------------------------------------------

def video_by_path(conn: sqlite3.Connection, path: str) -> VideoRecord | None:
    row = conn.execute("SELECT * FROM videos WHERE path = ?", (path,)).fetchone()
    return None if row is None else VideoRecord.from_row(row)


def videos_by_hash(conn: sqlite3.Connection, content_hash: str) -> list[VideoRecord]:
    rows = conn.execute("SELECT * FROM videos WHERE content_hash = ? ORDER BY id", (content_hash,))
    return [VideoRecord.from_row(r) for r in rows]


SQL_INT_RANGE = range(-(2 ** 63), 2 ** 63)


def sql_id(value: int) -> int:
    """A row id SQLite can bind: an id outside its 64-bit range names no row, so it becomes -1
    (no row has a negative id) instead of an OverflowError. Raises ValueError / TypeError for
    a value that is not an integer."""
    number = int(value)
    return number if number in SQL_INT_RANGE else -1


def get_video(conn: sqlite3.Connection, video_id: int) -> VideoRecord:
    """Raises: NotFoundError if there is no such video."""
    row = conn.execute("SELECT * FROM videos WHERE id = ?", (sql_id(video_id),)).fetchone()
    if row is None:
        raise NotFoundError(f"no video with id {video_id} in the index")
    return VideoRecord.from_row(row)


def list_videos(conn: sqlite3.Connection, *, ids: Sequence[int] | None = None,
                min_duration: float | None = None,
                max_duration: float | None = None) -> list[VideoRecord]:
    sql, args = "SELECT * FROM videos WHERE 1", []
    if ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        args.append(json.dumps([int(i) for i in ids]))
    if min_duration is not None:
        sql += " AND duration >= ?"
        args.append(float(min_duration))
    if max_duration is not None:
        sql += " AND duration <= ?"
        args.append(float(max_duration))
    return [VideoRecord.from_row(r) for r in conn.execute(sql + " ORDER BY path", args)]


def path_bounds(conn: sqlite3.Connection) -> list[Path]:
    """The smallest and largest video path ([] without videos), each read from the path index."""
    low = conn.execute("SELECT min(path) FROM videos").fetchone()[0]
    high = conn.execute("SELECT max(path) FROM videos").fetchone()[0]
    return [] if low is None else [Path(low), Path(high)]


VIDEO_SORTS = {"name": "name", "duration": "duration", "date": "indexed_at", "id": "id"}


def video_page(conn: sqlite3.Connection, *, text: str = "", sort: str = "name", descending: bool = False,
               offset: int = 0, limit: int = 50) -> tuple[list[VideoRecord], int]:
    """One page of the videos whose file name contains ``text`` (case-insensitive), sorted by
    ``sort`` (a key of :data:`VIDEO_SORTS`; ties by id): (records, how many match).

    Raises: ValueError for an unknown sort key or a negative offset/limit.
    """
    if sort not in VIDEO_SORTS or offset < 0 or limit < 0:
        raise ValueError(f"bad video page: sort {sort!r}, offset {offset}, limit {limit}")
    where, args = ("WHERE instr(name, ?) > 0", [text.casefold()]) if text else ("", [])
    direction = "DESC" if descending else "ASC"
    order = f"{VIDEO_SORTS[sort]} {direction}" + (f", id {direction}" if sort != "id" else "")
    rows = conn.execute(f"SELECT * FROM videos {where} ORDER BY {order} LIMIT ? OFFSET ?",
                        (*args, int(limit), int(offset)))
    records = [VideoRecord.from_row(r) for r in rows]
    total = conn.execute(f"SELECT count(*) FROM videos {where}", args).fetchone()[0] if text else \
        counters(conn).get("videos", 0)
    return records, int(total)


def upsert_video(conn: sqlite3.Connection, new: NewVideo, now: float) -> tuple[int, np.ndarray]:
    """Insert the video, or update the row with the same path keeping its id.

    Returns (video id, ids of the frames it had before, now deleted with its cuts and its
    automatic segments; curator segments stay).
    """
    info = new.info
    values = (str(new.path), new.content_hash, new.size, new.mtime, info.duration,
              info.fps.numerator if info.fps else None, info.fps.denominator if info.fps else None,
              info.width, info.height, info.rotation, info.start_time, info.codec,
              new.sample_every, new.status, new.note, now, new.path.name.casefold(), 0, 0)
    columns = ("path, content_hash, size, mtime, duration, fps_num, fps_den, width, height, "
               "rotation, start_time, codec, sample_every, status, note, indexed_at, name, "
               "first_frame, frame_count")
    row = conn.execute("SELECT id FROM videos WHERE path = ?", (str(new.path),)).fetchone()
    if row is None:
        cur = conn.execute(f"INSERT INTO videos ({columns}) VALUES ({', '.join('?' * len(values))})", values)
        return int(cur.lastrowid), np.empty(0, np.int64)
    video_id = int(row[0])
    old_ids = video_frame_ids(conn, [video_id])
    assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
    conn.execute(f"UPDATE videos SET {assignments} WHERE id = ?", (*values, video_id))
    conn.execute("DELETE FROM frames WHERE video_id = ?", (video_id,))
    conn.execute("DELETE FROM cuts WHERE video_id = ?", (video_id,))
    conn.execute("DELETE FROM transitions WHERE video_id = ?", (video_id,))
    conn.execute("DELETE FROM segments WHERE video_id = ? AND source = 'auto'", (video_id,))
    return video_id, old_ids


def delete_video(conn: sqlite3.Connection, video_id: int) -> np.ndarray:
    """Delete a video and (cascade) its frames, cuts and segments; return its frame ids.

    Raises: NotFoundError if there is no such video.
    """
    get_video(conn, video_id)
    ids = video_frame_ids(conn, [video_id])
    conn.execute("DELETE FROM videos WHERE id = ?", (sql_id(video_id),))
    return ids


def rename_video(conn: sqlite3.Connection, video_id: int, new_path: str, mtime: float) -> None:
    """Raises: NotFoundError (no such video), StoreError (another video has that path)."""
    get_video(conn, video_id)
    other = conn.execute("SELECT id FROM videos WHERE path = ? AND id != ?",
                         (new_path, sql_id(video_id))).fetchone()
    if other is not None:
        raise StoreError(f"cannot rename video {video_id}: {new_path} is already indexed "
                         f"as video {other[0]}")
    conn.execute("UPDATE videos SET path = ?, name = ?, mtime = ? WHERE id = ?",
                 (new_path, PurePath(new_path).name.casefold(), float(mtime), sql_id(video_id)))


# --- frames and cuts --------------------------------------------------------------------

def check_frames(times: Any, pts: Any, vectors: Any,
                 dim: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames to store as (times float64, pts int64, vectors float32).

    Raises: ValueError (different lengths, vectors not (n, dim), non-finite, negative times).
    """
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    pts = np.asarray(pts, dtype=np.int64).reshape(-1)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or not len(times) == len(pts) == len(vectors):
        raise ValueError(f"times {times.shape}, pts {pts.shape} and vectors {vectors.shape} "
                         "must describe the same frames")
    if dim is not None and vectors.shape[1] != dim:
        raise ValueError(f"vectors have dim {vectors.shape[1]}, the store holds {dim}")
    if not (np.isfinite(times).all() and np.isfinite(vectors).all()) or (times < 0).any():
        raise ValueError("frame times and vectors must be finite (times >= 0)")
    return times, pts, vectors


def insert_frames(conn: sqlite3.Connection, video_id: int, times: np.ndarray, pts: np.ndarray,
                  vectors: np.ndarray) -> np.ndarray:
    """Insert a video's frames (it has none yet) with their embeddings and sample keys, in one
    statement, so their ids are consecutive; record that range on the video; return the ids in
    input order.

    Raises: StoreError if the new ids are not one range (another connection inserting frames
    inside this transaction: impossible while it holds SQLite's write lock).
    """
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    (content_hash,) = conn.execute("SELECT content_hash FROM videos WHERE id = ?", (video_id,)).fetchone()
    keys = sample_keys(content_hash, pts).tolist()
    rows = ((video_id, float(t), int(p), v.tobytes(), key) for t, p, v, key in zip(times, pts, vectors, keys))
    conn.executemany("INSERT INTO frames (video_id, time, pts, embedding, sample_key) VALUES (?, ?, ?, ?, ?)", rows)
    n = len(times)
    last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0]) if n else 0
    ids = np.arange(last - n + 1, last + 1, dtype=np.int64)
    if n and conn.execute("SELECT count(*) FROM frames WHERE id BETWEEN ? AND ? AND video_id = ?",
                          (int(ids[0]), last, video_id)).fetchone()[0] != n:
        raise StoreError(f"the frames of video {video_id} did not get consecutive ids")
    conn.execute("UPDATE videos SET first_frame = ?, frame_count = ? WHERE id = ?",
                 (int(ids[0]) if n else 0, n, video_id))
    return ids


def insert_cuts(conn: sqlite3.Connection, video_id: int, cuts: Sequence[ShotCut]) -> None:
    conn.executemany("INSERT INTO cuts (video_id, time, pts, score, margin) VALUES (?, ?, ?, ?, ?)",
                     [(video_id, c.time, c.pts, c.score, c.margin) for c in cuts])


def insert_transitions(conn: sqlite3.Connection, video_id: int, transitions: Sequence[Transition]) -> None:
    conn.executemany(
        'INSERT INTO transitions (video_id, kind, colour, start, "end", start_pts, end_pts, strength) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(video_id, t.kind, t.colour, t.start, t.end, t.start_pts, t.end_pts, t.strength) for t in transitions])


def frames(conn: sqlite3.Connection, video_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, times, vectors) of a video's frames in time order.

    Raises: NotFoundError if there is no such video.
    """
    get_video(conn, video_id)
    rows = conn.execute("SELECT id, time, embedding FROM frames WHERE video_id = ? "
                        "ORDER BY time, id", (sql_id(video_id),)).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.float64)
    return ids, times, decode_vectors([r[2] for r in rows])


def frame_times(conn: sqlite3.Connection, video_id: int) -> list[float]:
    """Times of a video's stored frames, in order (no embeddings read)."""
    rows = conn.execute("SELECT time FROM frames WHERE video_id = ? ORDER BY time", (sql_id(video_id),))
    return [r[0] for r in rows]


def cuts(conn: sqlite3.Connection, video_id: int) -> list[float]:
    rows = conn.execute("SELECT time FROM cuts WHERE video_id = ? ORDER BY time", (sql_id(video_id),))
    return [r[0] for r in rows]


def shot_cuts(conn: sqlite3.Connection, video_id: int) -> list[ShotCut]:
    """The video's cuts with score and margin (None where an older index did not record it)."""
    rows = conn.execute("SELECT time, pts, score, margin FROM cuts WHERE video_id = ? ORDER BY time",
                        (int(video_id),))
    return [ShotCut(time=r[0], pts=r[1], score=r[2], margin=r[3]) for r in rows]


def transitions(conn: sqlite3.Connection, video_id: int) -> list[Transition]:
    rows = conn.execute('SELECT kind, start, "end", start_pts, end_pts, strength, colour FROM transitions '
                        "WHERE video_id = ? ORDER BY start", (int(video_id),))
    return [Transition(*r) for r in rows]


def decode_vectors(blobs: Sequence[bytes], dim: int | None = None) -> np.ndarray:
    """Stack float32 BLOBs into an (n, dim) array.

    Raises: StoreError if the blobs do not all hold ``dim`` float32 values.
    """
    if not blobs:
        return np.zeros((0, dim or 0), dtype=np.float32)
    dim = dim or len(blobs[0]) // 4
    data = b"".join(blobs)
    if len(data) != len(blobs) * dim * 4:
        raise StoreError(f"corrupt embeddings in the catalog (expected {dim} float32 values each)")
    return np.frombuffer(data, dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def frame_stats(conn: sqlite3.Connection) -> FrameStats:
    """Count, largest id and sum of the ids of every frame, from the maintained counters
    (O(1); :mod:`indexer.store.summaries`)."""
    tally = counters(conn)
    max_id = conn.execute("SELECT coalesce(max(id), 0) FROM frames").fetchone()[0]
    return FrameStats(tally.get("frames", 0), int(max_id), tally.get("frame_id_sum", 0))


def all_frame_ids(conn: sqlite3.Connection) -> np.ndarray:
    """Every frame id, sorted."""
    return np.fromiter((r[0] for r in conn.execute("SELECT id FROM frames ORDER BY id")),
                       dtype=np.int64)


def frame_ranges(conn: sqlite3.Connection, video_ids: Sequence[int]) -> np.ndarray:
    """(n, 2) int64 (first frame id, frame count) of the given videos that have frames, by id."""
    rows = conn.execute("SELECT first_frame, frame_count FROM videos WHERE frame_count > 0 AND id IN "
                        "(SELECT value FROM json_each(?)) ORDER BY first_frame",
                        (json.dumps([int(v) for v in video_ids]),)).fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def ids_of_ranges(ranges: np.ndarray) -> np.ndarray:
    """Sorted frame ids of (first id, count) ranges sorted by first id."""
    if not len(ranges):
        return np.zeros(0, np.int64)
    counts = ranges[:, 1]
    starts = np.repeat(ranges[:, 0] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return starts + np.arange(int(counts.sum()), dtype=np.int64)


def video_frame_ids(conn: sqlite3.Connection, video_ids: Sequence[int]) -> np.ndarray:
    """Sorted frame ids of the given videos (from their id ranges)."""
    return ids_of_ranges(frame_ranges(conn, video_ids))


def frame_vectors(conn: sqlite3.Connection, ids: np.ndarray,
                  dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids, vectors) batches for the given frame ids (missing ids are skipped)."""
    for lo in range(0, len(ids), ID_CHUNK):
        chunk = json.dumps([int(i) for i in ids[lo:lo + ID_CHUNK]])
        rows = conn.execute("SELECT id, embedding FROM frames WHERE id IN "
                            "(SELECT value FROM json_each(?)) ORDER BY id", (chunk,)).fetchall()
        yield np.array([r[0] for r in rows], np.int64), decode_vectors([r[1] for r in rows], dim)


def range_vectors(conn: sqlite3.Connection, ranges: np.ndarray,
                  dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids, vectors) per (first id, count) range (stored frames only)."""
    for first, count in ranges.tolist():
        rows = conn.execute("SELECT id, embedding FROM frames WHERE id BETWEEN ? AND ? ORDER BY id",
                            (first, first + count - 1)).fetchall()
        yield np.array([r[0] for r in rows], np.int64), decode_vectors([r[1] for r in rows], dim)


def sample_vectors(conn: sqlite3.Connection, size: int, dim: int) -> np.ndarray:
    """The embeddings of the ``size`` frames with the smallest sample keys, (n, dim) float32."""
    rows = conn.execute("SELECT embedding FROM frames ORDER BY sample_key LIMIT ?", (int(size),))
    return decode_vectors([r[0] for r in rows], dim)


def frames_after(conn: sqlite3.Connection, after_id: int,
                 dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids, vectors) batches of every frame with id > ``after_id``, in id order."""
    while True:
        rows = conn.execute("SELECT id, embedding FROM frames WHERE id > ? ORDER BY id LIMIT ?",
                            (int(after_id), ID_CHUNK)).fetchall()
        if not rows:
            return
        after_id = rows[-1][0]
        yield np.array([r[0] for r in rows], np.int64), decode_vectors([r[1] for r in rows], dim)


def frame_locations(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[int, float]]:
    """frame id -> (video id, time); ids that are not (or no longer) stored are left out."""
    out: dict[int, tuple[int, float]] = {}
    ids = [int(i) for i in ids if int(i) >= 0]
    for lo in range(0, len(ids), ID_CHUNK):
        rows = conn.execute("SELECT id, video_id, time FROM frames WHERE id IN "
                            "(SELECT value FROM json_each(?))", (json.dumps(ids[lo:lo + ID_CHUNK]),))
        out.update({r[0]: (r[1], r[2]) for r in rows})
    return out
