"""Where a label is present in a video, as curators left it: the one rule every reader uses
(reports, ``labels``, browse, category pages, search filters and scene labels, "restricted",
the video page).

Stored segments are evidence. An automatic segment says the model saw the label's *own*
prompts there (the indexer stores no parent segment derived from a child); a curator segment
is a person's decision: active ("it is here") or rejected ("it is not here"). The coverage of
label ``C`` in a video is::

    coverage(C) = confirmed(C) ∪ (detected(C) − rejected(C))

- ``confirmed(C)``: active curator segments of ``C`` or of any of its sub-categories;
- ``detected(C)``: active automatic segments of ``C`` or of any of its sub-categories;
- ``rejected(C)``: rejected segments of ``C`` or of any category above it ("no alcohol here"
  also means "no wine here").

So a parent is present exactly where its own evidence or one of its children is; rejecting a
child removes the parent wherever the parent had no evidence of its own; rejecting a parent
removes the automatic evidence of its children over that span too; and a curator's active
segment is never overruled by a rejection (delete or reject that segment to take it back). A
child's coverage therefore never exceeds its parent's. Free-text tags have no parents or
children.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

_EPS = 1e-6  # seconds: shorter pieces left over by a rejection are dropped


class SegmentLike(Protocol):
    """What coverage needs of a stored segment (a frozen dataclass such as SegmentRecord)."""

    label: str
    start: float
    end: float
    start_uncertainty: float
    end_uncertainty: float
    source: str  # "auto" or "curator"
    status: str  # "active" or "rejected"


S = TypeVar("S", bound=SegmentLike)


class LabelTree:
    """Which labels count towards a label (itself and its sub-categories) and which rejections
    apply to it (itself and the categories above it). Labels outside the taxonomy are tags."""

    def __init__(self, category_ids: Iterable[str]) -> None:
        self.categories = frozenset(category_ids)
        self._families: dict[str, frozenset[str]] = {}  # memo: a page asks for the same labels

    def family(self, label: str) -> frozenset[str]:
        """``label`` and every category below it."""
        if label not in self.categories:
            return frozenset((label,))
        family = self._families.get(label)
        if family is None:
            family = frozenset(c for c in self.categories if c == label or c.startswith(label + "/"))
            self._families[label] = family
        return family

    def lineage(self, label: str) -> frozenset[str]:
        """``label`` and every category above it."""
        out = {label}
        if label in self.categories:
            parts = label.split("/")
            out.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return frozenset(out)


@functools.lru_cache(maxsize=16)
def label_tree(category_ids: tuple[str, ...]) -> LabelTree:
    """The (cached) LabelTree of a taxonomy's ids (``taxonomy.ids``)."""
    return LabelTree(category_ids)


def coverage(segments: Sequence[S], label: str, tree: LabelTree) -> tuple[S, ...]:
    """The pieces of one video's ``segments`` (active and rejected rows) that make ``label``
    present, by start time. A piece is a segment of the label or of a sub-category, cut where
    a rejection overrules it (a copy with new times; its id still names the stored row)."""
    family, lineage = tree.family(label), tree.lineage(label)
    vetoes = sorted((s for s in segments if s.status == "rejected" and s.label in lineage),
                    key=lambda s: (s.start, s.end))
    pieces: list[S] = []
    for seg in segments:
        if seg.status != "active" or seg.label not in family:
            continue
        if seg.source == "curator":
            pieces.append(seg)
        else:
            pieces.extend(_subtract(seg, vetoes))
    return tuple(sorted(pieces, key=lambda s: (s.start, s.end, s.label)))


def _subtract(seg: S, vetoes: Sequence[SegmentLike]) -> list[S]:
    """``seg`` minus the spans of ``vetoes`` (sorted by start); a cut edge takes the
    uncertainty of the rejection's edge that made it."""
    pieces: list[S] = []
    start, start_unc = seg.start, seg.start_uncertainty
    for veto in vetoes:
        if veto.end <= start or veto.start >= seg.end:
            continue
        if veto.start - start > _EPS:
            pieces.append(dataclasses.replace(seg, start=start, end=veto.start,
                                              start_uncertainty=start_unc,
                                              end_uncertainty=veto.start_uncertainty))
        if veto.end > start:
            start, start_unc = veto.end, veto.end_uncertainty
    if seg.end - start > _EPS:
        pieces.append(seg if start == seg.start else
                      dataclasses.replace(seg, start=start, start_uncertainty=start_unc))
    return pieces


def video_coverage(segments: Sequence[S], tree: LabelTree) -> dict[str, tuple[S, ...]]:
    """label -> its coverage pieces, for every label present in the video (a category whose
    only evidence is a sub-category's is included)."""
    candidates = {parent for s in segments if s.status == "active"
                  for parent in tree.lineage(s.label)}
    out = {label: coverage(segments, label, tree) for label in sorted(candidates)}
    return {label: pieces for label, pieces in out.items() if pieces}


def covered_seconds(pieces: Iterable[SegmentLike]) -> float:
    """Length of the union of the pieces' spans (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for piece in sorted(pieces, key=lambda s: (s.start, s.end)):
        if piece.end > reach:
            total += piece.end - max(piece.start, reach)
            reach = piece.end
    return total
