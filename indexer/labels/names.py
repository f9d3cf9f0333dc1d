"""What a curator typed as a label -> the label to store: a category id or a free-text tag.

Labels are entered by hand (web forms, the JSON API), so the same thing arrives spelled many
ways. :func:`resolve_label` turns it into one stored label:

1. :func:`visible_text`: Unicode NFC, whitespace of any kind collapsed to one space, control,
   format (bidi marks and overrides, zero-width spaces, BOM), private-use and unassigned
   characters removed (a zero-width joiner or non-joiner is kept between two visible
   characters, where emoji and some scripts need it). Nothing visible left is an error.
2. A taxonomy category by id, display name or last id component, ignoring case, ``-`` and
   ``_`` ("Wine", "WINE", "alcohol/wine" -> ``alcohol/wine``); a name several categories
   share is an error that lists their ids.
3. An existing free-text tag spelled the same way ignoring case and spacing -> that tag.
4. Otherwise a new tag. If it is close to a category or tag ("Wyne", "logos") or names a
   sub-category that does not exist ("alcohol/whisky"), :class:`CloseLabelError` asks the
   caller to confirm it (``new_tag=True``) or use a suggestion.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from indexer.errors import CloseLabelError, QueryError
from indexer.types import MAX_LABEL_CHARS


class Taxonomy(Protocol):
    """What resolving needs of :class:`indexer.labels.taxonomy.Taxonomy` (which imports this
    module for :func:`match_key`)."""

    categories: tuple[Any, ...]

    @property
    def ids(self) -> tuple[str, ...]: ...

    def matches(self, text: str) -> tuple[Any, ...]: ...

CLOSE_RATIO = 0.75  # difflib similarity from which a new tag counts as close
_DROP = {"Cc", "Cf", "Co", "Cs", "Cn"}
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner, joiner
_VISIBLE = ("L", "N", "P", "S")  # letters, numbers, punctuation, symbols


def visible_text(text: str) -> str:
    """``text`` as it looks: NFC, one space for any run of whitespace, invisible characters
    removed (see the module docstring). May return ""."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch.isspace() else ch for ch in text)
    kept = []
    for i, ch in enumerate(text):
        if ch in _JOINERS:
            if _shows(text[i - 1:i]) and _shows(text[i + 1:i + 2]) and kept and kept[-1] == text[i - 1]:
                kept.append(ch)
        elif unicodedata.category(ch) not in _DROP:
            kept.append(ch)
    return " ".join("".join(kept).split())


def _shows(ch: str) -> bool:
    return bool(ch) and unicodedata.category(ch)[0] in _VISIBLE


def clean_label(text: object) -> str:
    """The visible label; raises QueryError if nothing visible is left or it is too long."""
    if not isinstance(text, str):
        raise QueryError(f"a label must be text, got {text!r}")
    label = visible_text(text)
    if not any(_shows(ch) for ch in label):
        raise QueryError("the label is empty (it has no visible character)")
    if len(label) > MAX_LABEL_CHARS:
        raise QueryError(f"the label is too long ({len(label)} characters; at most {MAX_LABEL_CHARS})")
    return label


def match_key(text: str) -> str:
    """How labels are compared: visible text, case-folded, '-' and '_' as spaces."""
    return " ".join(re.sub(r"[-_]", " ", visible_text(text)).casefold().split())


def resolve_label(text: object, taxonomy: Taxonomy, tags: Iterable[str], *,
                  new_tag: bool = False) -> str:
    """The label to store for what a curator typed (see the module docstring).

    ``tags``: the free-text tags already in use. ``new_tag``: the curator confirmed a new tag.

    Raises:
        QueryError: nothing visible, too long, or a name several categories share.
        CloseLabelError: a new tag close to existing labels, not confirmed.
    """
    label = clean_label(text)
    hits = taxonomy.matches(label)
    if len(hits) > 1:
        raise QueryError(f"{label!r} names several categories ({', '.join(c.id for c in hits)}); "
                         "give the full id")
    if hits:
        return hits[0].id
    key = match_key(label)
    known = {match_key(tag): tag for tag in tags if tag not in taxonomy.ids}
    if key in known:
        return known[key]
    if not new_tag:
        suggestions = close_labels(label, taxonomy, known.values())
        if suggestions:
            raise CloseLabelError(label, suggestions)
    return label


def label_resolver(taxonomy: Taxonomy, *, new_tag: bool = False) -> Callable[[str, Iterable[str]], str]:
    """``resolve(text, labels_in_use)`` for :mod:`indexer.store.curation`: :func:`resolve_label`
    with this taxonomy (the store reads the labels in use inside its transaction)."""
    return lambda text, labels: resolve_label(text, taxonomy, labels, new_tag=new_tag)


def close_labels(label: str, taxonomy: Taxonomy, tags: Iterable[str], limit: int = 3) -> tuple[str, ...]:
    """Categories (ids) and tags a new tag ``label`` may have meant, closest first: similar
    spellings of an id, a name, a last id component or a tag, and the category a
    ``category/...`` path starts with."""
    key = match_key(label)
    names: dict[str, str] = {}  # comparable key -> the label it stands for
    for cat in taxonomy.categories:
        for text in (cat.id, cat.name, cat.id.rpartition("/")[2]):
            names.setdefault(match_key(text), cat.id)
    for tag in tags:
        names.setdefault(match_key(tag), tag)
    close = difflib.get_close_matches(key, list(names), n=limit * 3, cutoff=CLOSE_RATIO)
    found = list(dict.fromkeys(names[k] for k in close))
    head = key.rpartition("/")[0]
    while head:
        if head in names and names[head] in taxonomy.ids and names[head] not in found:
            found.insert(0, names[head])
        head = head.rpartition("/")[0]
    return tuple(found[:limit])
