"""Segment queries over the catalog (same conventions as :mod:`indexer.store.queries`):
automatic segments written by the indexer, reads for reports, browse and search filters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.store.catalog import SegmentRecord
from indexer.errors import NotFoundError
from indexer.store.queries import sql_id
from indexer.types import Segment


@dataclass(frozen=True)
class LabelStat:
    """Per label: how many videos show it and its total active screen time (seconds,
    overlapping segments of one video counted once)."""

    label: str
    videos: int
    duration: float


def insert_auto_segments(conn: sqlite3.Connection, video_id: int, segments: Sequence[Segment],
                         now: float) -> int:
    """Insert automatic segments, except those overlapping a curator row (active or rejected)
    of the same label; return how many were inserted."""
    curated: dict[str, list[tuple[float, float]]] = {}
    for label, start, end in conn.execute("SELECT label, start, \"end\" FROM segments "
                                          "WHERE video_id = ? AND source = 'curator'", (video_id,)):
        curated.setdefault(label, []).append((start, end))
    keep = [s for s in segments
            if not any(s.start < c_end and c_start < s.end or (s.start, s.end) == (c_start, c_end)
                       for c_start, c_end in curated.get(s.label, ()))]
    conn.executemany(
        "INSERT INTO segments (video_id, label, start, \"end\", score, start_uncertainty, "
        "end_uncertainty, source, status, created_by, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'auto', 'active', NULL, ?)",
        [(video_id, s.label, s.start, s.end, s.score, s.start_uncertainty, s.end_uncertainty, now)
         for s in keep])
    return len(keep)


def segments(conn: sqlite3.Connection, video_id: int, *,
             include_rejected: bool = False) -> list[SegmentRecord]:
    sql = "SELECT * FROM segments WHERE video_id = ?"
    if not include_rejected:
        sql += " AND status = 'active'"
    rows = conn.execute(sql + " ORDER BY start, label, id", (sql_id(video_id),))
    return [SegmentRecord.from_row(r) for r in rows]


def get_segment(conn: sqlite3.Connection, segment_id: int) -> SegmentRecord:
    """Raises: NotFoundError if there is no such segment."""
    row = conn.execute("SELECT * FROM segments WHERE id = ?", (sql_id(segment_id),)).fetchone()
    if row is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    return SegmentRecord.from_row(row)


def videos_with_labels(conn: sqlite3.Connection, labels: Sequence[str] | None, *,
                       include_rejected: bool = False,
                       video_ids: Sequence[int] | None = None) -> dict[int, list[SegmentRecord]]:
    """video id -> its active (and, if asked, rejected) segments with one of ``labels``
    (None: any label), by start time; only of ``video_ids`` if given."""
    sql = "SELECT * FROM segments WHERE 1"
    args: tuple = ()
    if not include_rejected:
        sql += " AND status = 'active'"
    if labels is not None:
        sql, args = sql + " AND label IN (SELECT value FROM json_each(?))", (json.dumps(list(labels)),)
    if video_ids is not None:
        sql += " AND video_id IN (SELECT value FROM json_each(?))"
        args = (*args, json.dumps([int(v) for v in video_ids]))
    rows = conn.execute(sql + " ORDER BY video_id, start, id", args)
    out: dict[int, list[SegmentRecord]] = {}
    for row in rows:
        out.setdefault(row["video_id"], []).append(SegmentRecord.from_row(row))
    return out


def label_stats(conn: sqlite3.Connection) -> dict[str, LabelStat]:
    """label -> LabelStat over active segments (union of each video's segments)."""
    rows = conn.execute("SELECT label, video_id, start, \"end\" FROM segments "
                        "WHERE status = 'active' ORDER BY label, video_id, start")
    totals: dict[str, list] = {}
    current: tuple[str, int] | None = None
    span_start = span_end = 0.0
    for label, video_id, start, end in rows:
        if (label, video_id) != current or start > span_end:
            if current is not None:
                totals[current[0]][1] += span_end - span_start
            if (label, video_id) != current:
                totals.setdefault(label, [0, 0.0])[0] += 1
            current, span_start, span_end = (label, video_id), start, end
        else:
            span_end = max(span_end, end)
    if current is not None:
        totals[current[0]][1] += span_end - span_start
    return {label: LabelStat(label, n, round(d, 6)) for label, (n, d) in sorted(totals.items())}
