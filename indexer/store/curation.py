"""Curator operations on segments, with an audit log, and curator accounts.

Semantics (re-indexing relies on them, see ``catalog_segments.insert_auto_segments``):
- accept / reject / edit turn the row into ``source='curator'`` (reject: ``status='rejected'``),
  so re-indexing never deletes or changes it;
- re-indexing never inserts an automatic segment overlapping a curator row (active or
  rejected) of the same label, so a rejected segment stays rejected;
- relabelling an automatic row also leaves a rejected curator row for the old label and
  span, so re-indexing does not bring the old label back;
- add creates a curator row; delete removes curator rows only (reject automatic ones);
- add and edit store the label their ``resolve`` callable returns for what the curator typed,
  given the labels in use (read in the same transaction):
  :func:`indexer.labels.names.label_resolver` turns "Wine" into ``alcohol/wine``, refuses
  invisible labels and raises CloseLabelError for an unconfirmed tag close to a label.

Every operation is one transaction that also writes one ``audit_log`` row per changed segment
(who, when, action, before and after as JSON). Each takes the curator's user name, which must
be an existing account; signing in (:func:`check_password`) is the caller's business.

Passwords are hashed with ``hashlib.scrypt`` (n=2**14, r=8, p=1, 16-byte random salt) and
compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from indexer.store import queries as q
from indexer.store import segment_queries as qs
from indexer.store.catalog import SegmentRecord
from indexer.errors import NotFoundError, QueryError
from indexer.store import Store

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 8
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


@dataclass(frozen=True)
class AuditEntry:
    """One audit-log row: ``before``/``after`` are the segment as a dict (None when absent)."""

    id: int
    at: float  # unix time
    user: str
    action: str  # accept, reject, edit, add, delete
    video_id: int | None
    segment_id: int | None
    before: dict | None
    after: dict | None


# --- users --------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$digest`` (hex) for ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    try:
        kind, n, r, p, salt, digest = encoded.split("$")
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, bytes.fromhex(digest))


def add_user(store: Store, name: str, password: str) -> bool:
    """Create the curator account ``name``, or set a new password for it (which ends all its
    sessions); return True if it was created.

    Raises:
        QueryError: the name is not 1-64 of ``A-Z a-z 0-9 _ . @ -``, or the password is
            shorter than 8 characters.
        StoreError: the store is read-only.
    """
    encoded = _new_hash(name, password)
    with store.catalog.write() as conn:
        if _set_hash(conn, name, encoded):
            return False
        conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                     (name, encoded, time.time()))
    return True


def set_password(store: Store, name: str, password: str) -> None:
    """Give the existing account ``name`` a new password and end all its sessions.

    Raises:
        NotFoundError: no such account.
        QueryError: bad name or a password shorter than 8 characters.
        StoreError: the store is read-only.
    """
    encoded = _new_hash(name, password)
    with store.catalog.write() as conn:
        if not _set_hash(conn, name, encoded):
            raise NotFoundError(f"no curator account {name!r}; create it with `reelsearch user add {name}`")


def _new_hash(name: str, password: str) -> str:
    """The hash of a new password after checking the name and the password. Raises QueryError."""
    if not USER_NAME.fullmatch(name or ""):
        raise QueryError("a user name is 1 to 64 letters, digits or _ . @ -")
    if len(password or "") < MIN_PASSWORD:
        raise QueryError(f"the password must have at least {MIN_PASSWORD} characters")
    return hash_password(password)


def _set_hash(conn: sqlite3.Connection, name: str, encoded: str) -> bool:
    """Store a new password hash for an existing account and end its sessions; False if none."""
    cur = conn.execute("UPDATE users SET password_hash = ?, session_generation = session_generation + 1 "
                       "WHERE name = ?", (encoded, name))
    return bool(cur.rowcount)


def check_password(store: Store, name: str, password: str) -> bool:
    """Whether ``name`` is a curator whose password is ``password`` (False for unknown names,
    after the same amount of work)."""
    with store.catalog.read() as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        verify_password(password or "", _dummy_hash())
        return False
    return verify_password(password or "", row[0])


def remove_user(store: Store, name: str) -> None:
    """Remove the curator account ``name``: it can no longer sign in, and its sessions end at
    their next request. What it did stays, under its name (audit log, judgements, reviews).

    Raises:
        NotFoundError: no such account.
        StoreError: the store is read-only.
    """
    with store.catalog.write() as conn:
        if not conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
            raise NotFoundError(f"no curator account {name!r}")


def list_users(store: Store) -> list[str]:
    """Names of every curator account, sorted."""
    with store.catalog.read() as conn:
        return [r[0] for r in conn.execute("SELECT name FROM users ORDER BY name")]


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


# --- helpers ------------------------------------------------------------------------------

def _check_user(conn: sqlite3.Connection, user: str) -> None:
    if conn.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone() is None:
        raise QueryError(f"unknown curator {user!r}; create the account with `reelsearch user add`")


#: Turns what a curator typed into the label to store, given every label in use.
LabelResolver = Callable[[str, list[str]], str]


def _resolve_label(conn: sqlite3.Connection, label: str, resolve: LabelResolver) -> str:
    return resolve(label, [row[0] for row in conn.execute("SELECT DISTINCT label FROM segments")])


def _check_span(conn: sqlite3.Connection, video_id: int, start: float, end: float) -> None:
    duration = q.get_video(conn, video_id).duration
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise QueryError(f"segment {name} must be a number of seconds, got {value!r}")
    if end <= start:
        raise QueryError(f"segment end {end:.3f} s must be after its start {start:.3f} s")
    if start < 0 or end > duration + 1e-3:
        raise QueryError(f"segment {start:.3f}-{end:.3f} s is outside the video (0-{duration:.3f} s)")


def _log(conn: sqlite3.Connection, user: str, action: str, video_id: int, segment_id: int,
         before: SegmentRecord | None, after: SegmentRecord | None) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, user, action, video_id, segment_id, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (time.time(), user, action, video_id, segment_id,
         None if before is None else json.dumps(before.to_dict()),
         None if after is None else json.dumps(after.to_dict())))


def _update(conn: sqlite3.Connection, segment_id: int, user: str, **values: object) -> SegmentRecord:
    values.update(source="curator", created_by=user, updated_at=time.time())
    sets = ", ".join(f'"{key}" = ?' for key in values)
    conn.execute(f"UPDATE segments SET {sets} WHERE id = ?", (*values.values(), segment_id))
    return qs.get_segment(conn, segment_id)


def _insert(conn: sqlite3.Connection, user: str, video_id: int, label: str, start: float,
            end: float, *, score: float = 1.0, status: str = "active") -> SegmentRecord:
    cur = conn.execute(
        "INSERT INTO segments (video_id, label, start, \"end\", score, start_uncertainty, "
        "end_uncertainty, source, status, created_by, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 0, 0, 'curator', ?, ?, ?)",
        (video_id, label, float(start), float(end), score, status, user, time.time()))
    return qs.get_segment(conn, cur.lastrowid)


def _set_status(store: Store, segment_id: int, user: str, status: str, action: str) -> SegmentRecord:
    with store.catalog.write() as conn:
        _check_user(conn, user)
        before = qs.get_segment(conn, segment_id)
        after = _update(conn, segment_id, user, status=status)
        _log(conn, user, action, before.video_id, segment_id, before, after)
    return after


# --- operations ---------------------------------------------------------------------------

def accept(store: Store, segment_id: int, user: str) -> SegmentRecord:
    """Confirm a segment: it becomes an active curator segment.

    Raises: NotFoundError (no such segment), QueryError (unknown user), StoreError (read-only).
    """
    return _set_status(store, segment_id, user, "active", "accept")


def reject(store: Store, segment_id: int, user: str) -> SegmentRecord:
    """Reject a segment: it becomes a rejected curator segment (kept, so re-indexing does
    not bring it back).

    Raises: NotFoundError (no such segment), QueryError (unknown user), StoreError (read-only).
    """
    return _set_status(store, segment_id, user, "rejected", "reject")


def edit(store: Store, segment_id: int, user: str, *, resolve: LabelResolver,
         start: float | None = None, end: float | None = None,
         label: str | None = None) -> SegmentRecord:
    """Change a segment's start, end and/or label; it becomes a curator segment (a boundary
    set by hand has no uncertainty). Relabelling an automatic segment also stores a rejected
    curator segment for the old label. ``label`` goes through ``resolve`` (see the module
    docstring).

    Raises: NotFoundError (no such segment), QueryError (unknown user, nothing to change,
    end <= start, outside the video, bad label), CloseLabelError (a new tag close to an
    existing label, not confirmed), StoreError (read-only).
    """
    if start is None and end is None and label is None:
        raise QueryError("nothing to change: give a new start, end or label")
    with store.catalog.write() as conn:
        _check_user(conn, user)
        before = qs.get_segment(conn, segment_id)
        values: dict[str, object] = {}
        if start is not None:
            values.update(start=start, start_uncertainty=0.0)
        if end is not None:
            values.update(end=end, end_uncertainty=0.0)
        if label is not None:
            values["label"] = _resolve_label(conn, label, resolve)
        _check_span(conn, before.video_id, values.get("start", before.start),
                    values.get("end", before.end))
        after = _update(conn, segment_id, user, **values)
        _log(conn, user, "edit", before.video_id, segment_id, before, after)
        if before.source == "auto" and after.label != before.label:
            old = _insert(conn, user, before.video_id, before.label, before.start, before.end,
                          score=before.score, status="rejected")
            _log(conn, user, "reject", before.video_id, old.id, None, old)
    return after


def add(store: Store, video_id: int, user: str, label: str, start: float, end: float, *,
        resolve: LabelResolver) -> SegmentRecord:
    """Add a curator segment: a taxonomy category or a free-text tag, as ``resolve`` makes of
    ``label`` (see the module docstring).

    Raises: NotFoundError (no such video), QueryError (unknown user, end <= start, outside
    the video, bad label), CloseLabelError (a new tag close to an existing label, not
    confirmed), StoreError (read-only).
    """
    with store.catalog.write() as conn:
        _check_user(conn, user)
        label = _resolve_label(conn, label, resolve)
        _check_span(conn, video_id, start, end)
        after = _insert(conn, user, video_id, label, start, end)
        _log(conn, user, "add", video_id, after.id, None, after)
    return after


def delete(store: Store, segment_id: int, user: str) -> SegmentRecord:
    """Delete a curator segment; return it as it was.

    Raises: NotFoundError (no such segment), QueryError (unknown user, automatic segment:
    reject it instead), StoreError (read-only).
    """
    with store.catalog.write() as conn:
        _check_user(conn, user)
        before = qs.get_segment(conn, segment_id)
        if before.source != "curator":
            raise QueryError("only curator segments can be deleted; reject an automatic one")
        conn.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
        _log(conn, user, "delete", before.video_id, segment_id, before, None)
    return before


def audit(store: Store, video_id: int, *, limit: int | None = None) -> list[AuditEntry]:
    """The video's audit log, newest first (kept after the video is deleted)."""
    sql = "SELECT * FROM audit_log WHERE video_id = ? ORDER BY at DESC, id DESC"
    args: tuple = (q.sql_id(video_id),)
    if limit is not None:
        sql, args = sql + " LIMIT ?", (*args, int(limit))
    with store.catalog.read() as conn:
        rows = conn.execute(sql, args).fetchall()
    return [AuditEntry(r["id"], r["at"], r["user"], r["action"], r["video_id"], r["segment_id"],
                       None if r["before"] is None else json.loads(r["before"]),
                       None if r["after"] is None else json.loads(r["after"])) for r in rows]
