"""Query syntax: weighted terms joined by ``+``, negative terms after ``-``.

Grammar (whitespace between tokens is free)::

    query    := ["-"] term (("+" | "-") term)*
    term     := [weight] text
    weight   := a positive number, e.g. 0.5 (at most 10)
    text     := "quoted text" | bare words

Examples::

    beach                          one term, weight 1
    "beach" + 0.5 "sunset"         beach, plus sunset at half weight
    beach + 0.5 sunset             the same, bare words
    dog on a beach -night          beach dog, but not at night
    "red car" - 0.2 "rain"         a negative with its own weight

* A term after ``+`` (or the first term) is positive, default weight 1.
* A term after ``-`` is negative, default weight :data:`NEGATIVE_WEIGHT` (0.5). ``--not TEXT`` on the
  command line adds the same kind of negative. A ``-`` inside a word (``t-shirt``, ``close-up``)
  is part of the word; only a ``-`` that starts a token is an operator.
* A number at the start of a term is its weight; to search for text that starts with a number,
  quote it: ``"2 dogs"``.
* The query vector is ``normalise(sum_i w_i * t_i - sum_j v_j * n_j)`` over the L2-normalised text
  embeddings ``t_i`` of the positive terms and ``n_j`` of the negatives. The search engine also
  drops frames that look more like a negative than like the positive terms (see search.cutoff).

Malformed input raises :class:`~indexer.errors.QueryError` with a one-line message: an empty query,
an unbalanced quote, a weight that is not a number, a term of more than CLIP's 77 tokens, a query
longer than :data:`MAX_QUERY_CHARS`, or a query of negatives only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from indexer.models.encoder import l2_normalize
from indexer.errors import QueryError
from .words import unknown_field

#: Default weight of a negative term (``-night`` or ``--not night``).
NEGATIVE_WEIGHT = 0.5
#: Longest accepted query, in characters.
MAX_QUERY_CHARS = 300
#: CLIP reads 77 tokens including its start and end tokens.
MAX_TERM_TOKENS = 75
#: Largest accepted weight.
MAX_WEIGHT = 10.0

_LIKE_RE = re.compile(r"^(?P<video>.+)@(?P<seconds>[0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_NUMBER_RE = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")
_WORD_RE = re.compile(r'[^\s"+]+')
# A rough lower bound of CLIP's BPE token count: words, single digits, runs of punctuation.
_TOKEN_RE = re.compile(r"[^\W\d_]+|\d|[^\w\s]+", re.UNICODE)

Term = tuple[str, float]


@dataclass(frozen=True)
class ParsedQuery:
    """A validated query: positive ``terms`` and ``negatives`` as (text, weight) pairs."""

    terms: tuple[Term, ...]
    negatives: tuple[Term, ...] = ()

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("a query needs at least one positive term")
        for text, weight in self.terms + self.negatives:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"query term text must be a non-empty string, got {text!r}")
            if not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
                raise ValueError(f"term weight must be in (0, {MAX_WEIGHT:g}], got {weight!r}")

    @property
    def texts(self) -> tuple[str, ...]:
        """Every distinct term text, positives first (what needs embedding)."""
        return tuple(dict.fromkeys(t for t, _ in self.terms + self.negatives))

    def __str__(self) -> str:
        parts = []
        for sign, terms, default in (("+", self.terms, 1.0), ("-", self.negatives, NEGATIVE_WEIGHT)):
            for text, weight in terms:
                prefix = "" if weight == default else f"{weight:g} "
                parts.append(f"{sign} {prefix}\"{text}\"")
        return " ".join(parts).removeprefix("+ ")


@dataclass(frozen=True)
class QueryVectors:
    """Embedded query: the combined unit vector, its positive part and the negative term vectors."""

    query: np.ndarray  # (d,) unit: normalise(sum w t - sum v n)
    positive: np.ndarray  # (d,) unit: normalise(sum w t)
    negatives: np.ndarray  # (m, d) unit rows, one per negative term

    def __post_init__(self) -> None:
        if self.query.ndim != 1 or self.positive.shape != self.query.shape:
            raise ValueError("query and positive must be 1-d vectors of the same size")
        if self.negatives.ndim != 2 or self.negatives.shape[1] != self.query.shape[0]:
            raise ValueError("negatives must be an (m, d) array")


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Split into ("op", "+"/"-"), ("quoted", text) and ("word", text) tokens."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "+-":
            tokens.append(("op", ch))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError(f"unbalanced quote at column {i + 1} of the query: {text!r}")
            tokens.append(("quoted", text[i + 1:end]))
            i = end + 1
        else:
            match = _WORD_RE.match(text, i)
            assert match is not None
            tokens.append(("word", match.group()))
            i = match.end()
    return tokens


def _split_terms(tokens: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Group tokens into (sign, term tokens); raises QueryError on an empty term."""
    terms: list[tuple[str, list[tuple[str, str]]]] = []
    sign, current = "+", []
    for kind, value in tokens:
        if kind != "op":
            current.append((kind, value))
            continue
        if current:
            terms.append((sign, current))
        elif terms or sign == "-":
            raise QueryError(f"nothing between two operators ('{sign}' then '{value}') in the query")
        elif value == "+":
            raise QueryError("the query starts with '+'; put a term before it")
        sign, current = value, []
    if not current:
        raise QueryError(f"the query ends with '{sign}'; put a term after it")
    terms.append((sign, current))
    return terms


def _parse_weight(token: str, text: str) -> float:
    if token.endswith(":"):  # a field name that is not one: speech:"...", ocr:"..."
        raise QueryError(unknown_field(token))
    if not _NUMBER_RE.match(token):
        raise QueryError(f"{token!r} before \"{text}\" is not a weight; a weight is a number like 0.5")
    weight = float(token)
    if not 0 < weight <= MAX_WEIGHT:
        raise QueryError(f"weight {token} of \"{text}\" must be above 0 and at most {MAX_WEIGHT:g}")
    return weight


def _parse_term(tokens: list[tuple[str, str]], default_weight: float) -> Term:
    """One term's tokens -> (text, weight); raises QueryError when malformed."""
    quoted = [i for i, (kind, _) in enumerate(tokens) if kind == "quoted"]
    if quoted:
        q = quoted[0]
        text = tokens[q][1].strip()
        if q + 1 < len(tokens):
            raise QueryError(f"unexpected {tokens[q + 1][1]!r} after \"{text}\"; join terms with '+'")
        if q > 1:
            raise QueryError(f"unexpected {tokens[0][1]!r} before \"{text}\"; join terms with '+'")
        if not text:
            raise QueryError("empty quoted term \"\" in the query")
        weight = _parse_weight(tokens[0][1], text) if q == 1 else default_weight
        return text, weight
    words = [value for _, value in tokens]
    if len(words) > 1 and _NUMBER_RE.match(words[0]):
        text = " ".join(words[1:])
        return text, _parse_weight(words[0], text)
    return " ".join(words), default_weight


def _check_length(text: str) -> None:
    n_tokens = len(_TOKEN_RE.findall(text))
    if n_tokens > MAX_TERM_TOKENS:
        raise QueryError(f"the term \"{text[:40]}...\" has about {n_tokens} tokens; CLIP reads at most "
                         f"77, so shorten it")


def _extra_negatives(texts: Sequence[str]) -> list[Term]:
    """``--not`` texts as negative terms (plain text, surrounding quotes dropped)."""
    terms = []
    for extra in texts:
        cleaned = extra.strip().strip('"').strip()
        if not cleaned:
            raise QueryError("an empty --not text; give the words to exclude")
        terms.append((cleaned, NEGATIVE_WEIGHT))
    return terms


def parse_query(text: str, negatives: Sequence[str] = ()) -> ParsedQuery:
    """Parse ``text`` (syntax in the module docstring); ``negatives`` are extra ``--not`` texts.

    Raises:
        QueryError: empty or malformed query, a term too long for CLIP, or no positive term.
    """
    if not isinstance(text, str) or not text.strip():
        raise QueryError("the query is empty; give some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query has {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
    positives: list[Term] = []
    negs: list[Term] = []
    for sign, tokens in _split_terms(_tokenize(text)):
        if sign == "+":
            positives.append(_parse_term(tokens, 1.0))
        else:
            negs.append(_parse_term(tokens, NEGATIVE_WEIGHT))
    negs.extend(_extra_negatives(negatives))
    if not positives:
        raise QueryError("the query has only negative terms; say what to search for, e.g. 'beach -night'")
    for term, _ in positives + negs:
        _check_length(term)
    return ParsedQuery(tuple(positives), tuple(negs))


def with_negatives(query: ParsedQuery, negatives: Sequence[str]) -> ParsedQuery:
    """``query`` with extra negative texts (weight NEGATIVE_WEIGHT); raises QueryError if one is empty."""
    extra = _extra_negatives(negatives)
    for term, _ in extra:
        _check_length(term)
    return ParsedQuery(query.terms, query.negatives + tuple(extra))


def embed_query(query: ParsedQuery, encode_texts: Callable[[list[str]], np.ndarray]) -> QueryVectors:
    """Embed every term once and combine them (formula in the module docstring).

    Raises:
        QueryError: the negatives cancel the positive terms (the combined vector is ~0).
    """
    texts = list(query.texts)
    vectors = l2_normalize(np.asarray(encode_texts(texts), dtype=np.float32))
    by_text = dict(zip(texts, vectors))
    positive = sum(w * by_text[t] for t, w in query.terms)
    negative = sum((w * by_text[t] for t, w in query.negatives), np.zeros_like(positive))
    combined = positive - negative
    if float(np.linalg.norm(combined)) < 1e-6 * math.sqrt(len(texts)):
        raise QueryError(f"the negative terms cancel the query {str(query)!r}; use different words")
    neg_rows = np.array([by_text[t] for t, _ in query.negatives], dtype=np.float32)
    return QueryVectors(query=l2_normalize(combined), positive=l2_normalize(positive),
                        negatives=neg_rows.reshape(len(query.negatives), vectors.shape[1]))


def parse_like(value: str) -> tuple[str, float]:
    """A "more like this" reference ``VIDEO@SECONDS`` -> (video id or path, seconds >= 0).

    The one grammar of ``search --like`` and the web's ``like=``. Raises QueryError when malformed.
    """
    match = _LIKE_RE.match(value.strip())
    if not match:
        raise QueryError(f"'like' wants VIDEO@SECONDS (a video id or path, e.g. 3@12.5), got {value!r}")
    return match["video"], float(match["seconds"])
