"""What curators teach, as stored: "reviewed" marks, versioned learned category models, user
categories, and the swap of automatic segments that applying (or rolling back) a model version is.

A *run* is one version: the heads it adopted (per label, with what each was trained on), the
videos it relabelled and a snapshot of the automatic segments of its labels it replaced. The
current head of a label is the one of the newest active run that has it. Rolling a run back
restores its snapshot exactly and marks it ``rolled_back``, so the previous version is current
again. Curator segments are never touched: new automatic segments overlapping a curator segment
of the same label are not stored (as when indexing).

Reached as ``store.teaching``; every method is one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.errors import NotFoundError, QueryError
from indexer.store import segment_queries as qs
from indexer.store.catalog import Catalog
from indexer.types import Segment

_SEGMENT_COLUMNS = ("video_id", "label", "start", "end", "score", "start_uncertainty", "end_uncertainty",
                    "source", "status", "created_by", "updated_at")


@dataclass(frozen=True)
class StoredHead:
    """A learned head as stored: its weights, parameters and what it was trained on."""

    run_id: int
    label: str
    weights: np.ndarray
    params: dict[str, Any]
    trained_on: dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One model version (see the module docstring)."""

    id: int
    created_at: float
    user: str | None
    kind: str  # learn or feedback
    status: str  # active or rolled_back
    summary: dict[str, Any]
    labels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at, "user": self.user, "kind": self.kind,
                "status": self.status, "labels": list(self.labels), "summary": self.summary}


@dataclass(frozen=True)
class UserCategory:
    """A category a curator created (from relevance feedback); its head lives in a run."""

    id: str
    name: str
    prompts: tuple[str, ...]
    created_by: str | None
    created_at: float


class Teaching:
    """The curator-learning tables of one catalog (see the module docstring)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    # --- reviewed marks -------------------------------------------------------------------

    def reviewed(self, label: str | None = None) -> set[tuple[int, str]]:
        """(video id, label) pairs marked reviewed (of one label, if given)."""
        sql, args = "SELECT video_id, label FROM reviews", ()
        if label is not None:
            sql, args = sql + " WHERE label = ?", (label,)
        with self._catalog.read() as conn:
            return {(int(v), str(lab)) for v, lab in conn.execute(sql, args)}

    # --- model versions -------------------------------------------------------------------

    def current_heads(self) -> dict[str, StoredHead]:
        """label -> its head in the newest active run that has one."""
        with self._catalog.read() as conn:
            rows = conn.execute(
                "SELECT m.* FROM label_models m JOIN learn_runs r ON r.id = m.run_id "
                "WHERE r.status = 'active' ORDER BY m.run_id").fetchall()
        return {r["label"]: StoredHead(r["run_id"], r["label"], np.frombuffer(r["weights"], np.float64).copy(),
                                       json.loads(r["params"]), json.loads(r["trained_on"])) for r in rows}

    def runs(self) -> list[Run]:
        """Every run, newest first."""
        with self._catalog.read() as conn:
            rows = conn.execute("SELECT * FROM learn_runs ORDER BY id DESC").fetchall()
            labels = {}
            for run_id, label in conn.execute("SELECT run_id, label FROM label_models ORDER BY label"):
                labels.setdefault(run_id, []).append(label)
        return [Run(r["id"], r["created_at"], r["user"], r["kind"], r["status"], json.loads(r["summary"]),
                    tuple(labels.get(r["id"], ()))) for r in rows]

    def add_run(self, kind: str, user: str | None, summary: Mapping[str, Any],
                heads: Mapping[str, tuple[np.ndarray, dict, dict]],
                segments: Mapping[int, Sequence[Segment]]) -> int:
        """Store a new version: ``heads`` (label -> (weights, params, trained_on)) and the new
        automatic ``segments`` of those labels per video (every video relabelled, empty lists
        included), after snapshotting the automatic segments they replace. Returns the run id.

        Raises: ValueError (no head, a segment of another label), StoreError (read-only).
        """
        labels = sorted(heads)
        if not labels:
            raise ValueError("a model version needs at least one head")
        if any(s.label not in heads or s.source != "auto" for segs in segments.values() for s in segs):
            raise ValueError("new segments must be automatic segments of the run's labels")
        with self._catalog.write() as conn:
            snapshot = _auto_rows(conn, labels, list(segments))
            cur = conn.execute(
                "INSERT INTO learn_runs (created_at, user, kind, summary, videos, snapshot) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), user, kind, json.dumps(summary), json.dumps(sorted(segments)), json.dumps(snapshot)))
            run_id = int(cur.lastrowid)
            for label, (weights, params, trained_on) in heads.items():
                conn.execute("INSERT INTO label_models (run_id, label, weights, params, trained_on) VALUES (?, ?, ?, ?, ?)",
                             (run_id, label, np.asarray(weights, np.float64).tobytes(), json.dumps(params),
                              json.dumps(trained_on)))
            for video_id, segs in segments.items():
                _replace_auto(conn, video_id, labels, segs)
        return run_id

    def rollback(self) -> tuple[Run, list[int]]:
        """Roll the newest active run back: restore the automatic segments it replaced and make the
        previous version current. Returns the run and the videos it did not relabel that have
        segments of its labels from it (indexed since: the caller relabels them).

        Raises: NotFoundError (no active run), StoreError (read-only).
        """
        with self._catalog.write() as conn:
            row = conn.execute("SELECT * FROM learn_runs WHERE status = 'active' ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise NotFoundError("there is no learned model version to roll back")
            labels = [r[0] for r in conn.execute("SELECT label FROM label_models WHERE run_id = ?", (row["id"],))]
            videos = set(json.loads(row["videos"]))
            existing = {int(r[0]) for r in conn.execute("SELECT id FROM videos")}
            marks = ",".join("?" * len(labels))
            for video_id in videos & existing:
                conn.execute(f"DELETE FROM segments WHERE video_id = ? AND source = 'auto' AND label IN ({marks})",
                             (video_id, *labels))
            for seg in json.loads(row["snapshot"]):
                if seg["video_id"] in existing and not _curated(conn, seg):
                    conn.execute(f"INSERT INTO segments ({', '.join(map(_quote, _SEGMENT_COLUMNS))}) VALUES "
                                 f"({', '.join('?' * len(_SEGMENT_COLUMNS))})", [seg[c] for c in _SEGMENT_COLUMNS])
            conn.execute("UPDATE learn_runs SET status = 'rolled_back' WHERE id = ?", (row["id"],))
            later = sorted(existing - videos)
        run = next(r for r in self.runs() if r.id == row["id"])
        return run, later

    def replace_auto_segments(self, segments: Mapping[int, Sequence[Segment]], labels: Iterable[str]) -> None:
        """Replace the automatic segments of ``labels`` in each video by ``segments`` (curator
        segments untouched). Raises StoreError (read-only)."""
        labels = sorted(set(labels))
        with self._catalog.write() as conn:
            for video_id, segs in segments.items():
                _replace_auto(conn, video_id, labels, segs)

    # --- user categories ------------------------------------------------------------------

    def user_categories(self) -> list[UserCategory]:
        """Categories curators created, oldest first."""
        with self._catalog.read() as conn:
            rows = conn.execute("SELECT * FROM user_categories ORDER BY created_at, id").fetchall()
        return [UserCategory(r["id"], r["name"], tuple(json.loads(r["prompts"])), r["created_by"], r["created_at"])
                for r in rows]

    def add_user_category(self, category_id: str, name: str, prompts: Sequence[str], user: str | None) -> UserCategory:
        """Create a user category. Raises QueryError if the id exists, StoreError (read-only)."""
        with self._catalog.write() as conn:
            if conn.execute("SELECT 1 FROM user_categories WHERE id = ?", (category_id,)).fetchone():
                raise QueryError(f"a category {category_id!r} exists already; choose another name")
            now = time.time()
            conn.execute("INSERT INTO user_categories (id, name, prompts, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                         (category_id, name, json.dumps(list(prompts)), user, now))
        return UserCategory(category_id, name, tuple(prompts), user, now)


def _quote(column: str) -> str:
    return f'"{column}"'


def _curated(conn: Any, seg: Mapping[str, Any]) -> bool:
    """Whether a curator segment of the same label overlaps ``seg`` (judged since: keep the judgement)."""
    return conn.execute("SELECT 1 FROM segments WHERE video_id = ? AND label = ? AND source = 'curator' "
                        "AND start < ? AND \"end\" > ?", (seg["video_id"], seg["label"], seg["end"],
                                                          seg["start"])).fetchone() is not None


def _auto_rows(conn: Any, labels: Sequence[str], video_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The automatic segments of ``labels`` in ``video_ids``, as full rows (for a snapshot)."""
    wanted = set(video_ids)
    rows = conn.execute("SELECT * FROM segments WHERE source = 'auto' AND label IN (SELECT value FROM json_each(?)) "
                        "ORDER BY video_id, start, id", (json.dumps(list(labels)),))
    return [{c: r[c] for c in _SEGMENT_COLUMNS} for r in rows if r["video_id"] in wanted]


def _replace_auto(conn: Any, video_id: int, labels: Sequence[str], segments: Sequence[Segment]) -> None:
    marks = ",".join("?" * len(labels))
    conn.execute(f"DELETE FROM segments WHERE video_id = ? AND source = 'auto' AND label IN ({marks})",
                 (video_id, *labels))
    qs.insert_auto_segments(conn, video_id, [s for s in segments if s.label in labels], time.time())
