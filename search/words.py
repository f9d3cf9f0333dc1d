"""Word clauses of a query: ``text:"SPF 30"`` (on screen), ``said:"free delivery"`` (spoken),
``words:"..."`` (either), found in the store's full-text index (SQLite FTS5).

A clause is a field name, a colon and a phrase in double quotes (or one bare word); its tokens
must appear in this order in one on-screen line or one stretch of speech, case and accents
ignored (``text:"spf 30"`` finds "SPF 30", and "SPF-30"). What is left of the query once the
clauses are taken out is the visual query (:mod:`search.query`). A spoken hit is narrowed to the
words that matched, with their own times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from indexer.errors import QueryError
from indexer.store.words import WordMatch, WordRow
from indexer.types import format_timestamp

FIELDS = {"text": "text", "said": "said", "words": None}  # field -> stored kind (None: both)
MAX_PHRASE_CHARS = 200
_CLAUSE_RE = re.compile(r'(?<![^\s+])(?P<field>text|said|words):(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"+]+))',
                        re.IGNORECASE)
_OPEN_CLAUSE_RE = re.compile(r'(?<![^\s+])(text|said|words):"[^"]*$', re.IGNORECASE)
#: ``name:"..."`` with a name that is not a field (``speech:"..."``, ``ocr:"..."``)
_UNKNOWN_FIELD_RE = re.compile(r'(?<![^\s+])(?!(?:text|said|words):)([A-Za-z_]+):"', re.IGNORECASE)
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class WordClause:
    """One ``field:"phrase"`` of a query."""

    field: str  # text, said or words
    phrase: str

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValueError(f"word field must be one of {sorted(FIELDS)}, got {self.field!r}")
        if not _TOKEN_RE.search(self.phrase):
            raise ValueError(f"{self.field}: needs a word or number to look for")

    @property
    def kind(self) -> str | None:
        return FIELDS[self.field]

    def __str__(self) -> str:
        return f'{self.field}:"{self.phrase}"'


def split_query(query: str) -> tuple[str, tuple[WordClause, ...]]:
    """The visual part of ``query`` (clauses removed, whitespace tidied) and its word clauses.

    Raises QueryError for an unclosed quote after ``field:``, an empty or too long phrase.
    """
    if _OPEN_CLAUSE_RE.search(query):
        raise QueryError('unbalanced quote in a word clause: write text:"..." with both quotes')
    if unknown := _UNKNOWN_FIELD_RE.search(query):
        raise QueryError(unknown_field(unknown.group(1) + ":"))
    clauses = []
    for m in _CLAUSE_RE.finditer(query):
        phrase = " ".join((m.group("quoted") if m.group("quoted") is not None else m.group("bare")).split())
        if len(phrase) > MAX_PHRASE_CHARS:
            raise QueryError(f"a {m.group('field')}: phrase is at most {MAX_PHRASE_CHARS} characters")
        try:
            clauses.append(WordClause(m.group("field").lower(), phrase))
        except ValueError as exc:
            raise QueryError(str(exc)) from None
    rest = _CLAUSE_RE.sub(" ", query)
    rest = re.sub(r"^[\s+]+|[\s+]+$", "", re.sub(r"\+\s*(?=\+|$)", "", " ".join(rest.split())))
    return rest, tuple(clauses)


def unknown_field(token: str) -> str:
    """The one-line error for ``token`` (``speech:``) used as a field name before a quoted phrase."""
    return f"unknown field {token!r}; words on screen are text:\"...\", spoken ones said:\"...\", either words:\"...\""


def parse_clause(label: str) -> WordClause | None:
    """``label`` as a single word clause (``text:"SPF 30"``), or None if it is anything else."""
    visual, clauses = split_query(label.strip())
    return clauses[0] if len(clauses) == 1 and not visual else None


@dataclass(frozen=True)
class WordHit:
    """Where one clause matched: a line on screen or the spoken words, with the match marked."""

    clause: WordClause
    row: WordRow
    start: float
    end: float
    parts: tuple[tuple[str, bool], ...]  # the row's text as (piece, matched) pieces
    rank: float  # bm25 (lower is better)

    @property
    def video_id(self) -> int:
        return self.row.video_id

    @property
    def text(self) -> str:
        return "".join(p for p, _ in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: why a scene matched (``matched``: the highlighted pieces)."""
        return {"query": str(self.clause), "kind": self.row.kind, "start": self.start, "end": self.end,
                "start_hms": format_timestamp(self.start), "text": self.text,
                "matched": [[piece, hit] for piece, hit in self.parts]}

    def marked(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The text with the matched words between marks (for the command line)."""
        return "".join(f"{open_mark}{p}{close_mark}" if hit else p for p, hit in self.parts)


def find_words(store: Any, clause: WordClause, video_ids: Iterable[int] | None = None) -> list[WordHit]:
    """Every place ``clause`` matches (in ``video_ids`` if given), best bm25 first."""
    return [_hit(clause, match) for match in store.search_words(clause.phrase, clause.kind, video_ids=video_ids)]


def _hit(clause: WordClause, match: WordMatch) -> WordHit:
    row = match.row
    start, end = row.start, row.end
    if row.kind == "said" and row.words:
        span = spoken_span(clause.phrase, row)
        if span is not None:
            start, end = span
    return WordHit(clause, row, start, end, match.parts, match.rank)


def spoken_span(phrase: str, row: WordRow) -> tuple[float, float] | None:
    """Start of the first and end of the last spoken word of ``phrase`` in the row (None if its
    tokens are not found in order in the words)."""
    wanted = [t.casefold() for t in _TOKEN_RE.findall(phrase)]
    tokens: list[tuple[str, int]] = [(t.casefold(), i) for i, w in enumerate(row.words)
                                     for t in _TOKEN_RE.findall(w.word)]
    for at in range(len(tokens) - len(wanted) + 1):
        if [t for t, _ in tokens[at: at + len(wanted)]] == wanted:
            first, last = tokens[at][1], tokens[at + len(wanted) - 1][1]
            return row.words[first].start, row.words[last].end
    return None
