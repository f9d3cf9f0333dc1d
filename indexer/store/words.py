"""Words of a video in the catalog: on-screen text spans and speech segments, with FTS5 search.

Table ``word_rows`` (migration 7) holds one time-coded row per on-screen text span (``kind``
``text``) and per speech segment (``said``, its words with their times in ``detail``); the FTS5
table ``word_fts`` indexes their text (unicode61 tokens, case and accents folded) and follows the
rows through triggers, so deleting a video (cascade) or re-indexing it keeps them in step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.types import SpeechSegment, SpokenWord, TextSpan

KINDS = ("text", "said")
#: Markers FTS5's highlight() puts around matched tokens (never in OCR or ASR text).
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"


@dataclass(frozen=True)
class WordRow:
    """One stored line of on-screen text or segment of speech."""

    id: int
    video_id: int
    kind: str  # "text" (on screen) or "said" (speech)
    start: float
    end: float
    text: str
    confidence: float
    box: tuple[float, float, float, float] | None = None  # on-screen text: where, as frame fractions
    words: tuple[SpokenWord, ...] = ()  # speech: the words with their times

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"word row kind must be one of {KINDS}, got {self.kind!r}")
        if self.end < self.start:
            raise ValueError(f"word row end {self.end} is before start {self.start}")

    def to_dict(self) -> dict:
        """JSON form (API and ``--json``)."""
        out = {"id": self.id, "kind": self.kind, "start": self.start, "end": self.end, "text": self.text,
               "confidence": self.confidence}
        if self.box is not None:
            out["box"] = list(self.box)
        if self.kind == "said":
            out["words"] = [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                            for w in self.words]
        return out

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> WordRow:
        detail = json.loads(row["detail"] or "{}")
        box = tuple(detail["box"]) if "box" in detail else None
        words = tuple(SpokenWord(*w) for w in detail.get("words", ()))
        return cls(row["id"], row["video_id"], row["kind"], row["start"], row["end"], row["text"],
                   row["confidence"], box, words)


@dataclass(frozen=True)
class WordMatch:
    """A row matching a full-text query, with the text split into (piece, matched) parts."""

    row: WordRow
    rank: float  # FTS5 bm25: lower is better
    parts: tuple[tuple[str, bool], ...]


def insert_words(conn: sqlite3.Connection, video_id: int, spans: Sequence[TextSpan],
                 speech: Sequence[SpeechSegment], duration: float) -> int:
    """Replace the video's word rows (ends clamped to ``duration``); return how many were stored."""
    conn.execute("DELETE FROM word_rows WHERE video_id = ?", (video_id,))
    rows = [(video_id, "text", min(s.start, duration), min(s.end, duration), s.text, s.confidence,
             json.dumps({"box": [round(float(v), 4) for v in s.box]})) for s in spans]
    for seg in speech:
        words = [[w.word, w.start, w.end, round(w.probability, 4)] for w in seg.words]
        confidence = sum(w.probability for w in seg.words) / len(seg.words) if seg.words else 1.0
        rows.append((video_id, "said", min(seg.start, duration), min(seg.end, duration), seg.text,
                     confidence, json.dumps({"words": words})))
    conn.executemany("INSERT INTO word_rows (video_id, kind, start, end, text, confidence, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def video_words(conn: sqlite3.Connection, video_id: int, kind: str | None = None) -> list[WordRow]:
    """The video's word rows in time order (one kind, or both)."""
    sql = "SELECT * FROM word_rows WHERE video_id = ?" + (" AND kind = ?" if kind else "")
    args = (video_id, kind) if kind else (video_id,)
    return [WordRow.from_row(r) for r in conn.execute(sql + " ORDER BY start, kind, id", args)]


def fts_phrase(phrase: str) -> str:
    """An FTS5 query matching ``phrase`` as consecutive tokens (quotes escaped)."""
    return '"' + phrase.replace('"', '""') + '"'


def search_words(conn: sqlite3.Connection, phrase: str, kind: str | None = None,
                 video_ids: Iterable[int] | None = None, limit: int = 2000) -> list[WordMatch]:
    """Rows whose text contains ``phrase`` (tokens in order), best bm25 first.

    ``kind`` limits to on-screen text or speech; ``video_ids`` to those videos.
    """
    sql = (f"SELECT r.*, bm25(word_fts) AS rank, highlight(word_fts, 0, '{MARK_OPEN}', '{MARK_CLOSE}') AS marked "
           "FROM word_fts JOIN word_rows r ON r.id = word_fts.rowid WHERE word_fts MATCH ?")
    args: list = [fts_phrase(phrase)]
    if kind:
        sql += " AND r.kind = ?"
        args.append(kind)
    if video_ids is not None:
        sql += " AND r.video_id IN (SELECT value FROM json_each(?))"
        args.append(json.dumps(sorted(int(v) for v in video_ids)))
    sql += " ORDER BY rank, r.video_id, r.start LIMIT ?"
    args.append(int(limit))
    return [WordMatch(WordRow.from_row(r), float(r["rank"]), _parts(r["marked"]))
            for r in conn.execute(sql, args)]


def _parts(marked: str) -> tuple[tuple[str, bool], ...]:
    """Split highlight() output into (text, matched) pieces."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(marked.split(MARK_OPEN)):
        if i == 0:
            parts.append((chunk, False))
            continue
        hit, _, rest = chunk.partition(MARK_CLOSE)
        parts += [(hit, True), (rest, False)]
    return tuple(p for p in parts if p[0])
