"""Multi-label frame classification with CLIP prompt ensembles.

Class vectors: each category's prompts are embedded, L2-normalised, averaged and renormalised
(a prompt ensemble). Its negatives and the taxonomy's background prompts are embedded one by one:
each is a separate competitor.

Scoring a frame embedding ``v`` for category ``c`` (cosines ``s = v . w``)::

    p_c = softmax(100 * [s_c, s_neg_1 .. s_neg_k, s_bg_1 .. s_bg_B])[0]

i.e. a softmax at CLIP's logit scale over ``c``, its own negatives and the background prompts --
never over the other categories, so a frame can be "seaside" and "alcohol" at once. Real CLIP
cosines sit around 0.2-0.3 for everything; what carries the meaning is the *difference* to what
every frame resembles ("a photo", "a person", ...), and the logit scale turns a lead of 0.03 into
odds of e^3 = 20:1. ``c`` is present iff ``p_c >= threshold`` (the category's own, else the
taxonomy default) AND ``s_c`` beats every negative and the best background prompt -- merely being
the argmax among categories is never enough.

The score returned by :meth:`LabelModel.scores` is ``p_c``, except that where ``c`` does not beat
all its competitors it is capped just below the threshold (for thresholds >= 0.5 this never
changes anything: losing to a competitor already means ``p_c < 0.5``). So :meth:`LabelModel.present`
is a plain threshold test on the scores, and ``scores`` followed by ``present`` is always exact.

A category with a learned head (:class:`~indexer.labels.heads.LearnedHead`, fitted to curator
judgements by ``reelsearch learn``) is scored by that head instead: its calibrated probability,
against the head's own threshold (:meth:`LabelModel.with_heads`).

Hierarchy is not applied here: every category is scored and decided on its own prompts, so a
stored parent segment is evidence of the parent itself. Where a parent is present because of a
child (and how curator rejections change that) is derived at read time by :mod:`indexer.store.coverage`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from indexer.labels.heads import LearnedHead
from indexer.labels.taxonomy import Taxonomy
from indexer.models.encoder import Encoder, l2_normalize

log = logging.getLogger(__name__)

#: CLIP's learned logit scale (exp(4.6052) = 100 for the OpenAI/LAION models).
LOGIT_SCALE = 100.0


@dataclass(frozen=True, eq=False)
class LabelModel:
    """Class vectors and competitors for a set of labels; see the module docstring for scoring.

    Attributes:
        labels: label of every score column (category ids, or the free-text prompt).
        class_vectors: (C, d) float32, prompt-ensemble vector of each label.
        thresholds: (C,) float64, probability each label needs.
        background: (B, d) float32, shared competitor vectors (B >= 1 unless every label has negatives).
        negatives: per label, a (k, d) float32 array of its own competitors (k may be 0).
        heads: per label, its learned head or None (empty: no label has one).
    """

    labels: tuple[str, ...]
    class_vectors: np.ndarray
    thresholds: np.ndarray
    background: np.ndarray
    negatives: tuple[np.ndarray, ...]
    heads: tuple[LearnedHead | None, ...] = ()

    def __post_init__(self) -> None:
        c = len(self.labels)
        if c == 0:
            raise ValueError("a label model needs at least one label")
        if self.class_vectors.ndim != 2 or self.class_vectors.shape[0] != c:
            raise ValueError(f"class_vectors must have shape ({c}, d), got {self.class_vectors.shape}")
        d = self.class_vectors.shape[1]
        if self.thresholds.shape != (c,) or not np.all((self.thresholds > 0) & (self.thresholds < 1)):
            raise ValueError("thresholds must be one number in (0, 1) per label")
        if self.background.ndim != 2 or self.background.shape[1] != d:
            raise ValueError(f"background must have shape (B, {d}), got {self.background.shape}")
        if len(self.negatives) != c or any(n.ndim != 2 or n.shape[1] != d for n in self.negatives):
            raise ValueError(f"negatives must hold one (k, {d}) array per label")
        if any(len(self.background) + len(n) == 0 for n in self.negatives):
            raise ValueError("every label needs at least one competitor (background or negative prompt)")
        if self.heads and (len(self.heads) != c or any(h is not None and h.dim != d for h in self.heads)):
            raise ValueError(f"heads must hold one LearnedHead of dim {d} (or None) per label")

    @property
    def dim(self) -> int:
        return int(self.class_vectors.shape[1])

    @classmethod
    def build(cls, taxonomy: Taxonomy, encoder: Encoder) -> LabelModel:
        """Embed every prompt of ``taxonomy`` with ``encoder`` and return the model.

        Raises whatever ``encoder.encode_texts`` raises (EncoderError for real encoders).
        """
        cats = taxonomy.categories
        texts = _unique([p for c in cats for p in c.prompts + c.negatives] + list(taxonomy.background))
        table = dict(zip(texts, _encode(encoder, texts)))
        model = cls(
            labels=tuple(c.id for c in cats),
            class_vectors=np.stack([_ensemble([table[p] for p in c.prompts]) for c in cats]),
            thresholds=np.array([c.threshold or taxonomy.threshold for c in cats], dtype=np.float64),
            background=np.stack([table[p] for p in taxonomy.background]),
            negatives=tuple(_rows([table[p] for p in c.negatives], encoder.dim) for c in cats),
        )
        log.debug("label model: %d labels, %d prompts embedded", len(cats), len(texts))
        return model

    def with_heads(self, heads: Mapping[str, LearnedHead]) -> LabelModel:
        """This model with the learned ``heads`` (label -> head; unknown labels are ignored) scoring
        their labels, each against its own threshold; labels without one stay zero-shot."""
        by_label = tuple(heads.get(label) for label in self.labels)
        thresholds = np.array([h.threshold if h is not None else t for h, t in zip(by_label, self.thresholds)])
        return replace(self, heads=by_label if any(by_label) else (), thresholds=thresholds)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Per-frame, per-label scores in [0, 1]: (N, d) embeddings -> (N, C) float32.

        Raises ValueError if ``vectors`` is not (N, d) with this model's d.
        """
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValueError(f"vectors must have shape (N, {self.dim}), got {v.shape}")
        sims = (v @ self.class_vectors.T).astype(np.float64)
        bg = (v @ self.background.T).astype(np.float64)
        out = np.empty(sims.shape, dtype=np.float32)
        thresholds = self.thresholds.astype(np.float32)
        for c, neg in enumerate(self.negatives):
            rivals = np.concatenate([bg, (v @ neg.T).astype(np.float64)], axis=1)
            out[:, c] = first_softmax(sims[:, c], rivals)
            loses = sims[:, c] <= rivals.max(axis=1)
            # float32 cap strictly below the float32 threshold that present() compares with
            out[loses, c] = np.minimum(out[loses, c], np.nextafter(thresholds[c], np.float32(0)))
        for c, head in enumerate(self.heads):
            if head is not None:
                out[:, c] = head.probabilities(v)
        return out

    def present(self, scores: np.ndarray) -> np.ndarray:
        """Which labels are present: (N, C) scores -> (N, C) bool (each label on its own threshold).

        Raises ValueError if ``scores`` does not have C columns.
        """
        s = np.asarray(scores)
        if s.ndim != 2 or s.shape[1] != len(self.labels):
            raise ValueError(f"scores must have shape (N, {len(self.labels)}), got {s.shape}")
        # compare in the scores' own precision, as scores() does
        return s >= self.thresholds.astype(s.dtype if s.dtype.kind == "f" else np.float64)


def prompt_model(encoder: Encoder, text: str, against: Sequence[str] | None,
                 taxonomy: Taxonomy) -> LabelModel:
    """A one-label model for free text: the label is ``text`` itself.

    Competitors are the ``against`` prompts when given (non-empty), else the taxonomy's background
    prompts; the threshold is the taxonomy default. Raises ValueError for empty text or prompts.
    """
    text = text.strip()
    if not text:
        raise ValueError("the label prompt must not be empty")
    rivals = [a.strip() for a in against] if against else list(taxonomy.background)
    if not all(rivals):
        raise ValueError("competing prompts must not be empty")
    rivals = [r for r in _unique(rivals) if r != text]
    if not rivals:
        raise ValueError(f"{text!r} needs at least one competing prompt different from itself")
    vecs = _encode(encoder, [text] + rivals)
    return LabelModel(
        labels=(text,),
        class_vectors=vecs[:1],
        thresholds=np.array([taxonomy.threshold]),
        background=vecs[1:],
        negatives=(np.zeros((0, encoder.dim), dtype=np.float32),),
    )


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _encode(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    vecs = np.asarray(encoder.encode_texts(list(texts)), dtype=np.float32)
    if vecs.shape != (len(texts), encoder.dim):
        raise ValueError(f"encoder {encoder.name!r} returned shape {vecs.shape} for {len(texts)} texts")
    return l2_normalize(vecs)


def _ensemble(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of L2-normalised vectors, renormalised."""
    return l2_normalize(np.mean(np.stack(vectors), axis=0, keepdims=True))[0]


def _rows(vectors: Sequence[np.ndarray], dim: int) -> np.ndarray:
    return np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)


def first_softmax(target: np.ndarray, rivals: np.ndarray) -> np.ndarray:
    """softmax(LOGIT_SCALE * [target, rivals...])[0] per row, computed stably: how much a target
    similarity wins over its rivals (labels here, search's background cutoff too)."""
    logits = LOGIT_SCALE * np.concatenate([target[:, None], rivals], axis=1)
    top = logits.max(axis=1, keepdims=True)
    weights = np.exp(logits - top)
    return weights[:, 0] / weights.sum(axis=1)
