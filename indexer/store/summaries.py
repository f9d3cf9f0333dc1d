"""Summaries of the catalog kept exact in the same transaction as every change, so that no
read has to scan the archive: counters, each video's frame-id range, frame sample keys, and
label coverage.

* ``counters``: videos, their total duration (microseconds), frames, and the sum of the frame
  ids, kept by triggers on ``videos`` (a video's frames are the id range
  ``first_frame .. first_frame + frame_count - 1``: :func:`indexer.store.queries.insert_frames`
  inserts them in one statement inside the writer's transaction, so their AUTOINCREMENT ids are
  consecutive). They answer "how many videos, how long" and the vector index's reconcile check
  in O(1).
* ``frames.sample_key``: a pseudo-random 62-bit key per frame, from the video's content hash
  and the frame's PTS (the same video always gets the same keys). The index sample of the
  relevance cutoff is the frames with the smallest keys (:func:`indexer.store.queries.sample_vectors`): a uniform
  sample of the archive's frames read through an index, O(sample) whatever the archive's size.
* ``label_coverage``: per label *and per ancestor of a label* (category ids nest by ``/``:
  ``places/port`` also counts for ``places``) and per video, the screen time its active
  segments cover (overlaps counted once, microseconds); ``label_totals`` sums it per label.
  Triggers on ``segments`` note the videos whose segments changed in ``coverage_dirty``;
  :func:`refresh_coverage` (run by :meth:`~indexer.store.catalog.Catalog.write` before every
  commit) recomputes those videos and applies the difference to the totals.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.store.coverage import LabelTree, video_coverage as coverage_of

MICROS = 1_000_000
KEY_BITS = 62

#: Triggers of the summaries (one statement each: their bodies hold ``;``).
TRIGGERS: tuple[str, ...] = (
    """CREATE TRIGGER videos_counted AFTER INSERT ON videos BEGIN
         UPDATE counters SET value = value + CASE name
           WHEN 'videos' THEN 1 WHEN 'duration_us' THEN CAST(round(NEW.duration * 1e6) AS INTEGER)
           WHEN 'frames' THEN NEW.frame_count
           ELSE NEW.frame_count * NEW.first_frame + NEW.frame_count * (NEW.frame_count - 1) / 2 END;
       END""",
    """CREATE TRIGGER videos_uncounted AFTER DELETE ON videos BEGIN
         UPDATE counters SET value = value - CASE name
           WHEN 'videos' THEN 1 WHEN 'duration_us' THEN CAST(round(OLD.duration * 1e6) AS INTEGER)
           WHEN 'frames' THEN OLD.frame_count
           ELSE OLD.frame_count * OLD.first_frame + OLD.frame_count * (OLD.frame_count - 1) / 2 END;
       END""",
    """CREATE TRIGGER videos_recounted AFTER UPDATE OF duration, first_frame, frame_count ON videos BEGIN
         UPDATE counters SET value = value + CASE name
           WHEN 'videos' THEN 0
           WHEN 'duration_us' THEN CAST(round(NEW.duration * 1e6) AS INTEGER)
                                   - CAST(round(OLD.duration * 1e6) AS INTEGER)
           WHEN 'frames' THEN NEW.frame_count - OLD.frame_count
           ELSE NEW.frame_count * NEW.first_frame + NEW.frame_count * (NEW.frame_count - 1) / 2
                - OLD.frame_count * OLD.first_frame - OLD.frame_count * (OLD.frame_count - 1) / 2 END;
       END""",
    """CREATE TRIGGER segments_added AFTER INSERT ON segments BEGIN
         INSERT OR IGNORE INTO coverage_dirty (video_id) VALUES (NEW.video_id);
       END""",
    """CREATE TRIGGER segments_removed AFTER DELETE ON segments BEGIN
         INSERT OR IGNORE INTO coverage_dirty (video_id) VALUES (OLD.video_id);
       END""",
    """CREATE TRIGGER segments_changed AFTER UPDATE ON segments BEGIN
         INSERT OR IGNORE INTO coverage_dirty (video_id) VALUES (OLD.video_id);
         INSERT OR IGNORE INTO coverage_dirty (video_id) VALUES (NEW.video_id);
       END""",
)

COUNTERS = ("videos", "duration_us", "frames", "frame_id_sum")


# --- sample keys --------------------------------------------------------------------------

def sample_keys(content_hash: str, pts: np.ndarray) -> np.ndarray:
    """Pseudo-random keys in [0, 2**62) for a video's frames (splitmix64 of hash and PTS)."""
    seed = int.from_bytes(hashlib.blake2b(content_hash.encode(), digest_size=8).digest(), "little")
    with np.errstate(over="ignore"):
        x = np.asarray(pts, dtype=np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(64 - KEY_BITS)).astype(np.int64)


# --- counters -----------------------------------------------------------------------------

def counters(conn: sqlite3.Connection) -> dict[str, int]:
    """name -> value of every counter (see the module docstring)."""
    return {name: int(value) for name, value in conn.execute("SELECT name, value FROM counters")}


def recount(conn: sqlite3.Connection) -> None:
    """Set every counter from the videos table (migration; a check in tests)."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(CAST(round(duration * 1e6) AS INTEGER)), 0), "
        "coalesce(sum(frame_count), 0), coalesce(sum(frame_count * first_frame "
        "+ frame_count * (frame_count - 1) / 2), 0) FROM videos").fetchone()
    conn.executemany("INSERT INTO counters (name, value) VALUES (?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value", zip(COUNTERS, row))


# --- label coverage -----------------------------------------------------------------------

def label_and_ancestors(label: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b", "a/b/c"]`` (a label without ``/`` is its own only entry)."""
    parts = label.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)] if all(parts) else [label]


def covered_micros(spans: Iterable[tuple[float, float]]) -> int:
    """Length of the union of (start, end) spans, in whole microseconds."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return int(round(total * MICROS))


@dataclass(frozen=True)
class Evidence:
    """A stored segment as the coverage rule reads it."""

    label: str
    start: float
    end: float
    start_uncertainty: float
    end_uncertainty: float
    source: str
    status: str


def video_evidence(conn: sqlite3.Connection, video_ids: Sequence[int]) -> dict[int, list[Evidence]]:
    """video id -> its segments (active and rejected) as Evidence."""
    out: dict[int, list[Evidence]] = {}
    rows = conn.execute("SELECT video_id, label, start, \"end\", start_uncertainty, end_uncertainty, source, "
                        "status FROM segments WHERE video_id IN (SELECT value FROM json_each(?))",
                        (json.dumps([int(v) for v in video_ids]),))
    for video_id, *fields in rows:
        out.setdefault(video_id, []).append(Evidence(*fields))
    return out


def present(evidence: Sequence[Evidence]) -> dict[str, tuple[Evidence, ...]]:
    """label -> coverage pieces (:mod:`indexer.store.coverage`) of one video, every label and
    every ancestor of a label (ids nest by ``/``) counted as a category."""
    tree = LabelTree({key for e in evidence for key in label_and_ancestors(e.label)})
    return coverage_of(evidence, tree)


def video_coverage(conn: sqlite3.Connection, video_id: int) -> dict[str, tuple[int, int]]:
    """label -> (covered microseconds, 1 if the label itself has a piece else 0) where it is
    present in the video."""
    pieces = present(video_evidence(conn, [video_id]).get(video_id, []))
    return {label: (covered_micros((p.start, p.end) for p in mine), int(any(p.label == label for p in mine)))
            for label, mine in pieces.items()}


def refresh_coverage(conn: sqlite3.Connection) -> int:
    """Recompute the coverage of the videos whose segments changed in this transaction and
    apply the difference to the totals; return how many videos were refreshed."""
    dirty = [r[0] for r in conn.execute("SELECT video_id FROM coverage_dirty")]
    for video_id in dirty:
        old = {label: (micros, own) for label, micros, own in conn.execute(
            "SELECT label, micros, own FROM label_coverage WHERE video_id = ?", (video_id,))}
        new = video_coverage(conn, video_id)
        conn.execute("DELETE FROM label_coverage WHERE video_id = ?", (video_id,))
        conn.executemany("INSERT INTO label_coverage (label, video_id, micros, own) VALUES (?, ?, ?, ?)",
                         [(label, video_id, micros, own) for label, (micros, own) in new.items()])
        none = (0, 0)
        changes = [(label, (label in new) - (label in old), new.get(label, none)[0] - old.get(label, none)[0],
                    new.get(label, none)[1] - old.get(label, none)[1]) for label in old.keys() | new.keys()]
        conn.executemany("INSERT INTO label_totals (label, videos, micros, own) VALUES (?1, ?2, ?3, ?4) "
                         "ON CONFLICT (label) DO UPDATE SET videos = videos + ?2, micros = micros + ?3, "
                         "own = own + ?4", changes)
    if dirty:
        conn.execute("DELETE FROM label_totals WHERE videos <= 0")
        conn.execute("DELETE FROM coverage_dirty")
    return len(dirty)


def rebuild_coverage(conn: sqlite3.Connection) -> None:
    """Recompute every video's coverage and the totals from scratch (migration)."""
    conn.execute("DELETE FROM label_coverage")
    conn.execute("DELETE FROM label_totals")
    conn.execute("INSERT OR IGNORE INTO coverage_dirty (video_id) SELECT id FROM videos")
    refresh_coverage(conn)


@dataclass(frozen=True)
class LabelTotal:
    """A label (or an ancestor of labels) over the archive: how many videos show it or a
    descendant, their screen time (overlaps within a video counted once, seconds), and how
    many videos carry the label itself (0 for a category present only through children)."""

    label: str
    videos: int
    duration: float
    own_videos: int


def label_totals(conn: sqlite3.Connection) -> dict[str, LabelTotal]:
    """label -> LabelTotal for every label (and ancestor) present, by label."""
    return {label: LabelTotal(label, int(videos), micros / MICROS, int(own)) for label, videos, micros, own
            in conn.execute("SELECT label, videos, micros, own FROM label_totals ORDER BY label")}


def videos_showing(conn: sqlite3.Connection, labels: Sequence[str]) -> set[int]:
    """Ids of the videos where any of ``labels`` is present."""
    return {r[0] for r in conn.execute("SELECT DISTINCT video_id FROM label_coverage WHERE label IN "
                                       "(SELECT value FROM json_each(?))", (json.dumps(sorted(set(labels))),))}


def labels_union(conn: sqlite3.Connection, labels: Sequence[str]) -> tuple[int, float]:
    """(videos where any of ``labels`` is present, screen time of the union of their coverage
    in seconds, overlaps within a video counted once), from the maintained coverage; only
    videos showing two or more of the labels have their segments read (to unite them)."""
    rows = conn.execute("SELECT video_id, count(*), sum(micros) FROM label_coverage WHERE label IN "
                        "(SELECT value FROM json_each(?)) GROUP BY video_id", (json.dumps(sorted(set(labels))),))
    rows = rows.fetchall()
    total = sum(micros for _, shown, micros in rows if shown == 1)
    several = [video_id for video_id, shown, _ in rows if shown > 1]
    for evidence in video_evidence(conn, several).values():
        pieces = present(evidence)
        total += covered_micros((p.start, p.end) for label in labels for p in pieces.get(label, ()))
    return len(rows), total / MICROS


def video_label_seconds(conn: sqlite3.Connection, video_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """video id -> label -> screen time in seconds, for every label (and ancestor of one)
    present in each of ``video_ids`` (videos with none map to ``{}``); one indexed read."""
    out: dict[int, dict[str, float]] = {int(v): {} for v in video_ids}
    rows = conn.execute("SELECT video_id, label, micros FROM label_coverage WHERE video_id IN "
                        "(SELECT value FROM json_each(?))", (json.dumps(sorted(out)),))
    for video_id, label, micros in rows:
        out[video_id][label] = micros / MICROS
    return out


def label_video_page(conn: sqlite3.Connection, label: str, offset: int,
                     limit: int) -> tuple[list[tuple[int, float]], int]:
    """One page of the videos showing ``label`` (or a descendant), most screen time first:
    ([(video id, covered seconds)], how many videos show it)."""
    total = conn.execute("SELECT videos FROM label_totals WHERE label = ?", (label,)).fetchone()
    rows = conn.execute("SELECT c.video_id, c.micros FROM label_coverage c JOIN videos v ON v.id = c.video_id "
                        "WHERE c.label = ? ORDER BY c.micros DESC, v.name, v.id LIMIT ? OFFSET ?",
                        (label, int(limit), int(offset)))
    return [(int(v), m / MICROS) for v, m in rows], int(total[0]) if total else 0
