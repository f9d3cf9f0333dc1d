"""Curator review operations: "reviewed" marks per (video, category), and undo.

Marking a video reviewed for a category says the curator has looked at all of it: its segments
of that category are right and the category is absent elsewhere (:mod:`indexer.labels.truth`).
So the automatic segments of the category still in the video are accepted in the same
transaction (each with its audit-log row), and the mark itself is logged as ``review``.

Undo returns a segment to what it was before the curator's last accept or reject of it (from the
audit log), so a review queue can take a click back.
"""

from __future__ import annotations

import json
import time

from indexer.errors import QueryError
from indexer.store import Store
from indexer.store import queries as q
from indexer.store import segment_queries as qs
from indexer.store.catalog import SegmentRecord
from indexer.store.curation import _check_user, _log, _update


def mark_reviewed(store: Store, video_id: int, label: str, user: str) -> list[SegmentRecord]:
    """Mark ``video_id`` reviewed for ``label``; return the automatic segments it accepted.

    Raises: NotFoundError (no such video), QueryError (unknown user, bad label), StoreError.
    """
    label = (label or "").strip()
    if not label:
        raise QueryError("give the category the video was reviewed for")
    with store.catalog.write() as conn:
        _check_user(conn, user)
        q.get_video(conn, video_id)
        accepted = []
        for seg in qs.segments(conn, video_id):
            if seg.label == label and seg.source == "auto":
                after = _update(conn, seg.id, user, status="active")
                _log(conn, user, "accept", video_id, seg.id, seg, after)
                accepted.append(after)
        conn.execute("INSERT OR REPLACE INTO reviews (video_id, label, user, at) VALUES (?, ?, ?, ?)",
                     (video_id, label, user, time.time()))
        conn.execute("INSERT INTO audit_log (at, user, action, video_id, segment_id, before, after) "
                     "VALUES (?, ?, 'review', ?, NULL, NULL, ?)", (time.time(), user, video_id,
                                                                    json.dumps({"label": label})))
    return accepted


def unmark_reviewed(store: Store, video_id: int, label: str, user: str) -> bool:
    """Take the reviewed mark away (segments stay as they are); return whether there was one.

    Raises: QueryError (unknown user), StoreError (read-only).
    """
    with store.catalog.write() as conn:
        _check_user(conn, user)
        gone = conn.execute("DELETE FROM reviews WHERE video_id = ? AND label = ?", (video_id, label)).rowcount
        if gone:
            conn.execute("INSERT INTO audit_log (at, user, action, video_id, segment_id, before, after) "
                         "VALUES (?, ?, 'unreview', ?, NULL, ?, NULL)", (time.time(), user, video_id,
                                                                         json.dumps({"label": label})))
    return bool(gone)


def undo(store: Store, segment_id: int, user: str) -> SegmentRecord:
    """Put a segment back as it was before its last accept or reject.

    Raises: NotFoundError (no such segment), QueryError (unknown user, nothing to undo), StoreError.
    """
    with store.catalog.write() as conn:
        _check_user(conn, user)
        current = qs.get_segment(conn, segment_id)
        row = conn.execute("SELECT before FROM audit_log WHERE segment_id = ? AND action IN ('accept', 'reject') "
                           "ORDER BY id DESC LIMIT 1", (segment_id,)).fetchone()
        if row is None or row[0] is None:
            raise QueryError(f"segment {segment_id} has no accept or reject to undo")
        before = json.loads(row[0])
        conn.execute("UPDATE segments SET source = ?, status = ?, created_by = ?, updated_at = ? WHERE id = ?",
                     (before["source"], before["status"], before["created_by"], time.time(), segment_id))
        after = qs.get_segment(conn, segment_id)
        _log(conn, user, "undo", current.video_id, segment_id, current, after)
    return after


__all__ = ["mark_reviewed", "undo", "unmark_reviewed"]
