"""``reelsearch learn``: fit, check and apply learned category heads; roll a version back.

For every category with at least :data:`MIN_FRAMES` positive and negative judged frames, a head
is fitted (:func:`indexer.labels.fit.fit_head`) with the zero-shot prompt vector as its anchor
and cross-validated by video; it is adopted only where its held-out F1 beats the zero-shot
model's on the same frames. The operating point targets a precision (default 0.9), or a recall
for restricted categories. Adopted heads become a new version in the store, and every stored
video is relabelled for those categories from its stored embeddings -- no decode, no encode --
leaving curator segments (accepted, added, rejected) as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.errors import NotFoundError
from indexer.labels.classify import LabelModel
from indexer.labels.fit import FitResult, Judged, fit_head
from indexer.labels.heads import LearnedHead
from indexer.labels.segments import build_segments
from indexer.labels.taxonomy import Taxonomy
from indexer.pipeline.labelling import current_heads
from indexer.store import Store
from indexer.types import Segment

from .judged import JudgedVideo, judged_videos

log = logging.getLogger(__name__)

MIN_FRAMES = 10
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.9


@dataclass(frozen=True)
class LearnOutcome:
    """What ``learn`` did for one category: ``status`` adopted, kept (zero-shot was as good or
    better) or skipped (too few judged frames)."""

    label: str
    status: str
    positives: int
    negatives: int
    fit: FitResult | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.label, "status": self.status, "positive_frames": self.positives,
                               "negative_frames": self.negatives}
        if self.fit is not None:
            f = self.fit
            out.update(threshold=f.head.threshold, penalty=f.penalty, folds=f.folds,
                       held_out={"learned": _counts(f.learned), "zero_shot": _counts(f.zero_shot)})
        return out


def _counts(c: Any) -> dict[str, float]:
    return {"precision": c.precision, "recall": c.recall, "f1": c.f1}


@dataclass(frozen=True)
class LearnReport:
    """Outcomes per category and the version stored (None when nothing was adopted)."""

    outcomes: tuple[LearnOutcome, ...]
    run_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.run_id, "categories": [o.to_dict() for o in self.outcomes]}


def models(store: Store, taxonomy: Taxonomy, texts: Any) -> tuple[LabelModel, LabelModel]:
    """(zero-shot model, current model with the store's learned heads) of ``taxonomy``."""
    base = LabelModel.build(taxonomy, texts)
    return base, base.with_heads(current_heads(store, base.dim))


def judged_frames(base: LabelModel, videos: Sequence[JudgedVideo], label: str) -> Judged:
    """The judged frames of ``label`` with the zero-shot decision on each."""
    c = base.labels.index(label)
    parts: list[tuple] = []
    for v in videos:
        truth = v.truth.get(label)
        if truth is None or not truth.known.any():
            continue
        scores = base.scores(v.vectors[truth.known])
        parts.append((v.vectors[truth.known], truth.positive[truth.known], np.full(int(truth.known.sum()), v.video.id),
                      base.present(scores)[:, c], scores[:, c]))
    if not parts:
        dim = base.dim
        return Judged(np.zeros((0, dim), np.float32), np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0, bool),
                      np.zeros(0))
    return Judged(*(np.concatenate(p) for p in zip(*parts)))


def learn(store: Store, taxonomy: Taxonomy, texts: Any, *, category: str | None = None, user: str | None = None,
          target_precision: float = TARGET_PRECISION, target_recall: float = TARGET_RECALL) -> LearnReport:
    """Fit heads for ``category`` (or every category), adopt the better ones and relabel.

    Raises: NotFoundError (unknown category), StoreError (read-only store), EncoderError.
    """
    labels = [taxonomy.get(category).id] if category else list(taxonomy.ids)
    base, current = models(store, taxonomy, texts)
    videos = judged_videos(store, labels)
    outcomes, adopted = [], {}
    for label in labels:
        data = judged_frames(base, videos, label)
        pos, neg = int(data.positive.sum()), int((~data.positive).sum())
        if pos < MIN_FRAMES or neg < MIN_FRAMES:
            if pos or neg:
                outcomes.append(LearnOutcome(label, "skipped", pos, neg))
            continue
        restricted = taxonomy.get(label).restricted
        fit = fit_head(data, base.class_vectors[base.labels.index(label)],
                       target=target_recall if restricted else target_precision, by_recall=restricted)
        outcomes.append(LearnOutcome(label, "adopted" if fit.better else "kept", pos, neg, fit))
        if fit.better:
            adopted[label] = (fit, data)
    run_id = None
    if adopted:
        heads = {**current_heads(store, base.dim), **{label: f.head for label, (f, _d) in adopted.items()}}
        model = base.with_heads(heads)
        segments = relabel(store, model, list(adopted))
        stored = {label: (f.head.weights, f.head.params(), _trained_on(f, d)) for label, (f, d) in adopted.items()}
        summary = {"categories": [o.to_dict() for o in outcomes]}
        run_id = store.teaching.add_run("learn", user, summary, stored, segments)
        log.info("learn: version %d adopted %s", run_id, ", ".join(sorted(adopted)))
    return LearnReport(tuple(outcomes), run_id)


def _trained_on(fit: FitResult, data: Judged) -> dict[str, Any]:
    return {"videos": sorted(int(v) for v in np.unique(data.video_ids)), "positive_frames": int(data.positive.sum()),
            "negative_frames": int((~data.positive).sum()), "penalty": fit.penalty, "folds": fit.folds,
            "held_out": {"learned": _counts(fit.learned), "zero_shot": _counts(fit.zero_shot)}}


def relabel(store: Store, model: LabelModel, labels: Sequence[str],
            video_ids: Sequence[int] | None = None) -> dict[int, list[Segment]]:
    """New automatic segments of ``labels`` for every stored video (or ``video_ids``), from the
    stored embeddings, as indexing would make them."""
    cols = [model.labels.index(label) for label in labels]
    out: dict[int, list[Segment]] = {}
    for video in store.list_videos(ids=video_ids):
        _ids, times, vectors = store.frames(video.id)
        if not len(times):
            out[video.id] = []
            continue
        scores = model.scores(vectors)
        present = model.present(scores)
        cuts = store.cuts(video.id)
        out[video.id] = [seg for c in cols if present[:, c].any()
                         for seg in build_segments(model.labels[c], times, scores[:, c], present[:, c], cuts,
                                                   video.duration, video.sample_every)]
    return out


def rollback(store: Store, taxonomy: Taxonomy, texts: Any) -> dict[str, Any]:
    """Return to the previous version: the automatic segments the newest version replaced come
    back exactly; videos indexed since are relabelled by the previous heads.

    Raises: NotFoundError (no version to roll back), StoreError (read-only).
    """
    run, later = store.teaching.rollback()
    if later:
        labels = [label for label in run.labels if label in taxonomy.ids]
        if labels:
            _base, model = models(store, taxonomy, texts)
            store.teaching.replace_auto_segments(relabel(store, model, labels, later), labels)
    return {"rolled_back": run.id, "categories": list(run.labels), "relabelled_later_videos": len(later)}


def add_head(store: Store, taxonomy: Taxonomy, texts: Any, label: str, head: LearnedHead,
             trained_on: dict[str, Any], user: str | None, kind: str = "feedback") -> int:
    """Store ``head`` for ``label`` as a new version and relabel every video with it.

    Raises: NotFoundError (label not in ``taxonomy``), StoreError.
    """
    if label not in taxonomy.ids:
        raise NotFoundError(f"unknown category {label!r}")
    base, _current = models(store, taxonomy, texts)
    model = base.with_heads({**current_heads(store, base.dim), label: head})
    segments = relabel(store, model, [label])
    return store.teaching.add_run(kind, user, {"categories": [{"category": label, "status": "created"}]},
                                  {label: (head.weights, head.params(), trained_on)}, segments)
