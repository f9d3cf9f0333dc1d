"""Numbered schema migrations for the SQLite catalog.

Each migration is a function ``mNNN_name(conn)`` that moves the schema from version
NNN-1 to NNN. The version lives in ``PRAGMA user_version``. :func:`migrate` applies the
missing migrations in one transaction when a store is opened for writing; a store written
by a newer reelsearch (``user_version`` above :data:`SCHEMA_VERSION`) is refused.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import numpy as np

from indexer.errors import StoreError

log = logging.getLogger(__name__)


M001_INITIAL = """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE videos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL UNIQUE,
            content_hash TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            duration REAL NOT NULL,
            fps_num INTEGER,
            fps_den INTEGER,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            rotation INTEGER NOT NULL DEFAULT 0,
            start_time REAL NOT NULL DEFAULT 0,
            codec TEXT NOT NULL,
            sample_every REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'partial')),
            note TEXT NOT NULL DEFAULT '',
            indexed_at REAL NOT NULL
        );
        CREATE INDEX videos_content_hash ON videos (content_hash);
        CREATE TABLE frames (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            time REAL NOT NULL,
            pts INTEGER NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX frames_video_time ON frames (video_id, time);
        CREATE TABLE cuts (
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            time REAL NOT NULL,
            pts INTEGER NOT NULL,
            score REAL NOT NULL
        );
        CREATE INDEX cuts_video ON cuts (video_id);
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            score REAL NOT NULL,
            start_uncertainty REAL NOT NULL DEFAULT 0,
            end_uncertainty REAL NOT NULL DEFAULT 0,
            source TEXT NOT NULL CHECK (source IN ('auto', 'curator')),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rejected')),
            created_by TEXT,
            updated_at REAL NOT NULL
        );
        CREATE INDEX segments_video ON segments (video_id);
        CREATE INDEX segments_label ON segments (label);
        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            video_id INTEGER,
            segment_id INTEGER,
            before TEXT,
            after TEXT
        );
        CREATE INDEX audit_log_video ON audit_log (video_id);
        INSERT INTO meta (key, value) VALUES ('generation', '0')
"""


def m001_initial(conn: sqlite3.Connection) -> None:
    """Create every table of the first schema and its indexes."""
    _run_statements(conn, M001_INITIAL)


def m002_own_parent_segments(conn: sqlite3.Connection) -> None:
    """Automatic parent segments become evidence of the parent itself: earlier versions also
    stored a parent wherever a sub-category was detected. Each automatic parent segment keeps
    only the time no automatic segment of a sub-category covers (category ids nest by '/');
    the parent's presence there is derived at read time (:mod:`indexer.store.coverage`)."""
    rows = conn.execute("SELECT id, video_id, label, start, \"end\" FROM segments "
                        "WHERE source = 'auto' ORDER BY video_id, start").fetchall()
    by_video: dict[int, list[tuple]] = {}
    for row in rows:
        by_video.setdefault(row[1], []).append(tuple(row))
    for video_rows in by_video.values():
        for seg_id, _video, label, start, end in video_rows:
            children = sorted((s, e) for _i, _v, lab, s, e in video_rows
                              if lab.startswith(label + "/") and s < end and e > start)
            if children:
                _keep_uncovered(conn, seg_id, start, end, children)


def _keep_uncovered(conn: sqlite3.Connection, seg_id: int, start: float, end: float,
                    children: list[tuple[float, float]]) -> None:
    """Shrink segment ``seg_id`` to the parts of start-end outside ``children`` (sorted)."""
    parts, cursor = [], start
    for c_start, c_end in children:
        if c_start > cursor:
            parts.append((cursor, min(c_start, end)))
        cursor = max(cursor, c_end)
    if cursor < end:
        parts.append((cursor, end))
    parts = [(a, b) for a, b in parts if b - a > 1e-6]
    if not parts:
        conn.execute("DELETE FROM segments WHERE id = ?", (seg_id,))
        return
    first, *rest = parts
    conn.execute("UPDATE segments SET start = ?, \"end\" = ? WHERE id = ?", (*first, seg_id))
    for a, b in rest:
        conn.execute("INSERT INTO segments (video_id, label, start, \"end\", score, start_uncertainty, "
                     "end_uncertainty, source, status, created_by, updated_at) "
                     "SELECT video_id, label, ?, ?, score, start_uncertainty, end_uncertainty, source, "
                     "status, created_by, updated_at FROM segments WHERE id = ?", (a, b, seg_id))


M003_TEXT_VECTORS = """
        CREATE TABLE text_vectors (
            encoder TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('prompt', 'query')),
            vector BLOB NOT NULL,
            used_at REAL NOT NULL,
            PRIMARY KEY (encoder, text)
        ) WITHOUT ROWID;
        CREATE INDEX text_vectors_lru ON text_vectors (encoder, kind, used_at)
"""


def m003_text_vectors(conn: sqlite3.Connection) -> None:
    """Cache of text embeddings per encoder: taxonomy prompts (kept) and queries (bounded LRU)."""
    _run_statements(conn, M003_TEXT_VECTORS)


M004_SIGN_IN = """
        ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE sign_in_failures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
        CREATE INDEX sign_in_failures_at ON sign_in_failures (at)
"""


def m004_sign_in(conn: sqlite3.Connection) -> None:
    """Revocable sessions (a generation per curator) and the failed sign-in ledger."""
    _run_statements(conn, M004_SIGN_IN)


M005_CURATOR_LEARNING = """
        CREATE TABLE reviews (
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            user TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (video_id, label)
        );
        CREATE TABLE learn_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            user TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('learn', 'feedback')),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rolled_back')),
            summary TEXT NOT NULL,
            videos TEXT NOT NULL,
            snapshot TEXT NOT NULL
        );
        CREATE TABLE label_models (
            run_id INTEGER NOT NULL REFERENCES learn_runs (id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            weights BLOB NOT NULL,
            params TEXT NOT NULL,
            trained_on TEXT NOT NULL,
            PRIMARY KEY (run_id, label)
        );
        CREATE TABLE user_categories (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            prompts TEXT NOT NULL,
            created_by TEXT,
            created_at REAL NOT NULL
        )
"""


def m005_curator_learning(conn: sqlite3.Connection) -> None:
    """Curators teach: "reviewed" marks per (video, category), versioned learned category models
    with the automatic segments each version replaced (for rollback), and user categories."""
    _run_statements(conn, M005_CURATOR_LEARNING)


M006_TRANSITIONS = """
        ALTER TABLE cuts ADD COLUMN margin REAL;
        CREATE TABLE transitions (
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('fade_out', 'fade_in', 'dissolve')),
            colour TEXT NOT NULL DEFAULT '',
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            start_pts INTEGER NOT NULL,
            end_pts INTEGER NOT NULL,
            strength REAL NOT NULL
        );
        CREATE INDEX transitions_video ON transitions (video_id)
"""


def m006_transitions(conn: sqlite3.Connection) -> None:
    """Gradual transitions (fades, dissolves) next to the cuts, and each cut's margin over its
    threshold (NULL for cuts stored before: unknown until the video is indexed again)."""
    _run_statements(conn, M006_TRANSITIONS)


M007_WORDS = """
        CREATE TABLE word_rows (
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('text', 'said')),
            start REAL NOT NULL,
            end REAL NOT NULL,
            text TEXT NOT NULL,
            confidence REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX word_rows_video ON word_rows (video_id, kind, start);
        CREATE VIRTUAL TABLE word_fts USING fts5 (
            text, content = 'word_rows', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER word_rows_added AFTER INSERT ON word_rows BEGIN
            INSERT INTO word_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER word_rows_removed AFTER DELETE ON word_rows BEGIN
            INSERT INTO word_fts (word_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END
"""


def m007_words(conn: sqlite3.Connection) -> None:
    """On-screen text spans and speech segments, time-coded per video, with an FTS5 index.

    ``detail`` is JSON: the text's box, or the spoken words with their times.
    """
    _run_statements(conn, M007_WORDS)


M008_SUMMARIES = """
        ALTER TABLE videos ADD COLUMN name TEXT NOT NULL DEFAULT '';
        ALTER TABLE videos ADD COLUMN first_frame INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE videos ADD COLUMN frame_count INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX videos_name ON videos (name, id);
        CREATE INDEX videos_duration ON videos (duration, id);
        CREATE INDEX videos_indexed_at ON videos (indexed_at, id);
        ALTER TABLE frames ADD COLUMN sample_key INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE label_coverage (
            label TEXT NOT NULL,
            video_id INTEGER NOT NULL,
            micros INTEGER NOT NULL,
            own INTEGER NOT NULL,
            PRIMARY KEY (label, video_id)
        ) WITHOUT ROWID;
        CREATE INDEX label_coverage_video ON label_coverage (video_id);
        CREATE INDEX label_coverage_time ON label_coverage (label, micros);
        CREATE TABLE label_totals (
            label TEXT PRIMARY KEY,
            videos INTEGER NOT NULL,
            micros INTEGER NOT NULL,
            own INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE coverage_dirty (video_id INTEGER PRIMARY KEY)
"""


def m008_summaries(conn: sqlite3.Connection) -> None:
    """Summaries kept in step with every change (:mod:`indexer.store.summaries`): sortable
    video names, each video's frame-id range, frame sample keys, counters, label coverage."""
    from pathlib import PurePath

    from indexer.store import summaries

    _run_statements(conn, M008_SUMMARIES)
    for video_id, path, content_hash in conn.execute("SELECT id, path, content_hash FROM videos").fetchall():
        _contiguous_frames(conn, video_id)
        ids, pts = zip(*conn.execute("SELECT id, pts FROM frames WHERE video_id = ? ORDER BY id",
                                     (video_id,)).fetchall() or [((), ())])
        keys = summaries.sample_keys(content_hash, np.asarray(pts, dtype=np.int64))
        conn.executemany("UPDATE frames SET sample_key = ? WHERE id = ?", zip(keys.tolist(), ids))
        conn.execute("UPDATE videos SET name = ?, first_frame = ?, frame_count = ? WHERE id = ?",
                     (PurePath(path).name.casefold(), ids[0] if ids else 0, len(ids), video_id))
    conn.execute("CREATE INDEX frames_sample ON frames (sample_key)")
    summaries.recount(conn)
    for trigger in summaries.TRIGGERS:
        conn.execute(trigger)
    summaries.rebuild_coverage(conn)


def _contiguous_frames(conn: sqlite3.Connection, video_id: int) -> None:
    """Give a video's frames consecutive ids if they have gaps (never the case for frames
    written by one transaction; the vector index follows the new ids when next reconciled)."""
    lo, hi, n = conn.execute("SELECT min(id), max(id), count(*) FROM frames WHERE video_id = ?",
                             (video_id,)).fetchone()
    if n and hi - lo + 1 != n:
        conn.execute("INSERT INTO frames (video_id, time, pts, embedding) SELECT video_id, time, pts, "
                     "embedding FROM frames WHERE video_id = ? ORDER BY id", (video_id,))
        conn.execute("DELETE FROM frames WHERE video_id = ? AND id <= ?", (video_id, hi))


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (m001_initial, m002_own_parent_segments,
                                                              m003_text_vectors, m004_sign_in,
                                                              m005_curator_learning, m006_transitions, m007_words,
                                                              m008_summaries)
SCHEMA_VERSION = len(MIGRATIONS)


def has_summaries(version: int) -> bool:
    """Whether a catalog at schema ``version`` has the summaries (and their triggers)."""
    return m008_summaries in MIGRATIONS[:version]


def _run_statements(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements one by one (``executescript`` would commit); a trigger's
    body (``BEGIN ... END``) stays one statement."""
    pending = ""
    for piece in script.split(";"):
        pending += piece
        if pending.strip() and (not pending.lstrip().upper().startswith("CREATE TRIGGER")
                                or pending.rstrip().upper().endswith("END")):
            conn.execute(pending)
            pending = ""
        elif pending.strip():
            pending += ";"


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the schema version recorded in the database (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, *, writable: bool) -> int:
    """Return the stored schema version after checking this code can use it.

    Raises:
        StoreError: the store was written by a newer reelsearch, or (read-only) it needs
            migrations that only a writer may apply.
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the index uses schema version {version} but this reelsearch knows only up to "
            f"{SCHEMA_VERSION}; upgrade reelsearch"
        )
    if not writable and version < SCHEMA_VERSION:
        raise StoreError(
            f"the index uses an older schema (version {version}); run `reelsearch index` once "
            "to upgrade it"
        )
    return version


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every missing migration in one transaction; return the new schema version.

    The connection must be in autocommit mode (``isolation_level=None``).

    Raises:
        StoreError: the store is newer than this code, or a migration failed (nothing changed).
    """
    if check_version(conn, writable=True) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_version(conn, writable=True)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            step = MIGRATIONS[number - 1]
            log.info("applying schema migration %s", step.__name__)
            step(conn)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StoreError(f"cannot migrate the index schema: {exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
