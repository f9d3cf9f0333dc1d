"""``reelsearch eval`` and the web's eval page: how good are the labels, against curator ground truth?

For every category with judgements, and overall (frames and boundaries pooled over categories):
frame-level precision, recall and F1 over the judged frames, boundary error in frames (median,
p90), expected calibration error of the per-frame scores, and how many judgements the figures rest
on -- for the zero-shot model and, where a learned head is current, for the learned one. Both are
recomputed from the stored embeddings, as indexing would label the frames, so curator edits never
leak into the predictions; it works for any encoder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.labels.classify import LabelModel
from indexer.labels.fit import Counts
from indexer.labels.quality import boundary_errors, expected_calibration_error, percentile

from .judged import JudgedVideo, judged_videos, judgement_counts, predict
from .learn import models


@dataclass
class _Pool:
    """Accumulates one model's predictions against the truth."""

    predicted: list[np.ndarray] = field(default_factory=list)
    truth: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    boundaries: list[float] = field(default_factory=list)

    def add(self, other: _Pool) -> None:
        for name in ("predicted", "truth", "scores", "boundaries"):
            getattr(self, name).extend(getattr(other, name))

    def figures(self) -> Figures:
        cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
        truth = cat(self.truth).astype(bool)
        return Figures(Counts.of(cat(self.predicted).astype(bool), truth),
                       percentile(self.boundaries, 50), percentile(self.boundaries, 90),
                       len(self.boundaries) // 2, expected_calibration_error(cat(self.scores), truth))


@dataclass(frozen=True)
class Figures:
    """One model's figures on one category (or overall)."""

    counts: Counts
    boundary_median: float | None  # frames
    boundary_p90: float | None  # frames
    matched_segments: int
    ece: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {"precision": c.precision, "recall": c.recall, "f1": c.f1, "tp": c.tp, "fp": c.fp, "fn": c.fn,
                "boundary_error_median": self.boundary_median, "boundary_error_p90": self.boundary_p90,
                "matched_segments": self.matched_segments, "ece": self.ece}


@dataclass(frozen=True)
class CategoryEval:
    """The figures of one category."""

    label: str
    judgements: int
    positives: int
    negatives: int
    zero_shot: Figures
    learned: Figures | None  # None when no learned head is current (on the judged frames: it trained on them)
    held_out: dict[str, Any] | None = None  # the current head's cross-validated figures when it was learned

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.label, "judgements": self.judgements, "positive_frames": self.positives,
                "negative_frames": self.negatives, "zero_shot": self.zero_shot.to_dict(),
                "learned": None if self.learned is None else self.learned.to_dict(), "held_out": self.held_out}


@dataclass(frozen=True)
class EvalReport:
    """Per category and overall; ``overall`` uses the current model of each category."""

    categories: tuple[CategoryEval, ...]
    overall_zero_shot: Figures
    overall_current: Figures

    def get(self, label: str) -> CategoryEval | None:
        return next((c for c in self.categories if c.label == label), None)

    def to_dict(self) -> dict[str, Any]:
        return {"categories": [c.to_dict() for c in self.categories],
                "overall": {"judgements": sum(c.judgements for c in self.categories),
                            "positive_frames": sum(c.positives for c in self.categories),
                            "negative_frames": sum(c.negatives for c in self.categories),
                            "zero_shot": self.overall_zero_shot.to_dict(),
                            "current": self.overall_current.to_dict()}}


def eval_report(store: Any, taxonomy: Any, texts: Any, category: str | None = None) -> EvalReport:
    """Figures of ``category`` (or every category of ``taxonomy``) in ``store``: the zero-shot
    model and the current learned heads, on every judged video (``texts`` embeds the prompts)."""
    labels = [category] if category else list(taxonomy.ids)
    zero_shot, current = models(store, taxonomy, texts)
    return evaluate(store, zero_shot, current, judged_videos(store, labels), labels)


def evaluate(store: Any, zero_shot: LabelModel, current: LabelModel, videos: Sequence[JudgedVideo],
             labels: Sequence[str]) -> EvalReport:
    """Figures of ``zero_shot`` and ``current`` (the same model with learned heads) for ``labels``
    on the judged ``videos`` (from :func:`~search.teach.judged.judged_videos`)."""
    counts = judgement_counts(store, labels)
    pools: dict[str, dict[str, _Pool]] = {label: {"zero": _Pool(), "learned": _Pool()} for label in labels}
    learned_labels = {lab for lab, h in zip(current.labels, current.heads) if h is not None}
    for video in videos:
        judged = [label for label in labels if label in video.truth]
        if not judged:
            continue
        scores = {"zero": zero_shot.scores(video.vectors)}
        if learned_labels & set(judged):
            scores["learned"] = current.scores(video.vectors)
        for label in judged:
            for kind, model in (("zero", zero_shot), ("learned", current)):
                if kind == "learned" and label not in learned_labels:
                    continue
                pred = predict(model, video.video, video.times, video.vectors, video.cuts, label, scores[kind])
                _collect(pools[label][kind], video, label, pred)
    report = _report(labels, counts, pools, learned_labels, videos)
    heads = store.teaching.current_heads()
    rows = tuple(dataclasses.replace(c, held_out=heads[c.label].trained_on.get("held_out")) if c.label in heads else c
                 for c in report.categories)
    return dataclasses.replace(report, categories=rows)


def _collect(pool: _Pool, video: JudgedVideo, label: str, pred: Any) -> None:
    truth = video.truth[label]
    pool.predicted.append(pred.present[truth.known])
    pool.truth.append(truth.positive[truth.known])
    pool.scores.append(pred.scores[truth.known])
    pool.boundaries.extend(boundary_errors(truth.spans, pred.spans, video.fps))


def _report(labels: Sequence[str], counts: dict[str, int], pools: dict[str, dict[str, _Pool]],
            learned_labels: set[str], videos: Sequence[JudgedVideo]) -> EvalReport:
    rows, zero_all, current_all = [], _Pool(), _Pool()
    for label in labels:
        if not counts[label]:
            continue
        truths = [v.truth[label] for v in videos if label in v.truth]
        learned = label in learned_labels
        rows.append(CategoryEval(label, counts[label], sum(t.positives for t in truths),
                                 sum(t.negatives for t in truths), pools[label]["zero"].figures(),
                                 pools[label]["learned"].figures() if learned else None))
        zero_all.add(pools[label]["zero"])
        current_all.add(pools[label]["learned" if learned else "zero"])
    return EvalReport(tuple(rows), zero_all.figures(), current_all.figures())
