"""Fitting a category's learned head to judged frames (numpy only).

**Model.** Logistic regression over frame embeddings, anchored on the zero-shot prompt vector
``w0``: with ``u = (v - mean) / scale`` the logit is ``alpha * (w0 . u) + delta . u + b``, and only
``delta`` is penalised (``lam * |delta|^2`` against the *sum* of the log-losses). With few
judgements ``delta`` stays near 0 and the head is the prompt vector rescaled; the more judgements,
the further it may turn away from it. Fitted by Newton's method.

**Held-out evaluation.** K-fold cross-validation, folds grouped by video (frames of one video are
never split between training and held-out, since they look alike): the out-of-fold logits choose
the penalty, fit the Platt calibration ``sigmoid(a * logit + c)`` and the operating point, and give
the held-out F1 that decides whether the head is adopted (:func:`fit_head`).

**Operating point.** For a target precision: the lowest threshold whose held-out precision reaches
it (the most recall at that precision), else the best-F1 threshold. For a target recall
(restricted categories, where a miss costs more): the highest threshold whose recall reaches it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from indexer.labels.heads import LearnedHead, sigmoid

log = logging.getLogger(__name__)

PENALTIES = (1.0, 10.0, 100.0)
FOLDS = 5
NEWTON_STEPS = 30
MAX_ROWS = 20_000  # frames per fit (a random subset beyond)


@dataclass(frozen=True)
class Judged:
    """Judged frames of one category: embeddings, truth, the video of each frame, and the
    zero-shot decision and score of each frame (what a learned head must beat)."""

    vectors: np.ndarray  # (n, d) float32
    positive: np.ndarray  # (n,) bool
    video_ids: np.ndarray  # (n,) int64
    zero_shot: np.ndarray  # (n,) bool, the zero-shot model's (unsmoothed) decision
    zero_shot_scores: np.ndarray  # (n,) float, its score

    def __post_init__(self) -> None:
        n = len(self.vectors)
        if any(len(a) != n for a in (self.positive, self.video_ids, self.zero_shot, self.zero_shot_scores)):
            raise ValueError("judged arrays differ in length")


@dataclass(frozen=True)
class Counts:
    """Frame-level confusion counts with precision, recall and F1 (0 where undefined)."""

    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, predicted: np.ndarray, truth: np.ndarray) -> Counts:
        p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
        return cls(int(np.sum(p & t)), int(np.sum(p & ~t)), int(np.sum(~p & t)))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class FitResult:
    """A fitted head and how it and the zero-shot model did on held-out judgements."""

    head: LearnedHead
    learned: Counts  # held-out (out-of-fold) decisions at the chosen threshold
    zero_shot: Counts  # the zero-shot decisions on the same frames
    penalty: float
    folds: int

    @property
    def better(self) -> bool:
        """Adopt only a head that beats the zero-shot model on held-out F1."""
        return self.learned.f1 > self.zero_shot.f1 + 1e-9


def folds_of(video_ids: np.ndarray, positive: np.ndarray, k: int = FOLDS) -> np.ndarray:
    """Fold number of every frame: whole videos per fold when every training split then keeps
    both classes, else frames dealt round-robin within each class (stratified)."""
    videos = np.unique(video_ids)
    if len(videos) >= 2:
        k_v = min(k, len(videos))
        fold_of_video = {v: i % k_v for i, v in enumerate(videos)}
        folds = np.array([fold_of_video[v] for v in video_ids])
        if all(len(set(positive[folds != f])) == 2 for f in range(k_v)):
            return folds
    folds = np.empty(len(positive), dtype=np.int64)
    for cls in (False, True):
        idx = np.flatnonzero(positive == cls)
        folds[idx] = np.arange(len(idx)) % k
    return folds


def fit_head(data: Judged, prior: np.ndarray, *, target: float = 0.9, by_recall: bool = False,
             rng: np.random.Generator | None = None) -> FitResult:
    """Fit, cross-validate and calibrate a head for one category (see the module docstring).

    ``prior`` is the zero-shot prompt vector; ``target`` the precision to reach (the recall when
    ``by_recall``). Raises ValueError without at least 2 positive and 2 negative frames.
    """
    x, y = np.asarray(data.vectors, np.float64), np.asarray(data.positive, bool)
    if y.sum() < 2 or (~y).sum() < 2:
        raise ValueError("fitting a head needs at least 2 positive and 2 negative frames")
    rows = _subset(len(y), rng or np.random.default_rng(0))
    x, y, zs, videos = x[rows], y[rows], data.zero_shot[rows], data.video_ids[rows]
    folds = folds_of(videos, y)
    k = int(folds.max()) + 1
    best = None
    for lam in PENALTIES:
        oof = np.empty(len(y))
        for f in range(k):
            train = folds != f
            oof[~train] = _Linear.fit(x[train], y[train], prior, lam).logits(x[~train])
        loss = _log_loss(oof, y)
        if best is None or loss < best[0]:
            best = (loss, lam, oof)
    _loss, lam, oof = best
    a, c = platt(oof, y)
    probs = sigmoid(a * oof + c)
    threshold = operating_point(probs, y, target, by_recall=by_recall)
    final = _Linear.fit(x, y, prior, lam)
    head = LearnedHead(final.weights, final.bias, (a, c), threshold)
    return FitResult(head, Counts.of(probs >= threshold, y), Counts.of(zs, y), lam, k)


def _subset(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= MAX_ROWS else np.sort(rng.choice(n, MAX_ROWS, replace=False))


def _log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of raw logits (Platt-free: a monotone rescaling does not change the ranking)."""
    a, c = platt(logits, y)
    p = np.clip(sigmoid(a * logits + c), 1e-12, 1 - 1e-12)
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


@dataclass(frozen=True)
class _Linear:
    weights: np.ndarray
    bias: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, prior: np.ndarray, lam: float) -> _Linear:
        """Penalised logistic regression anchored on ``prior`` (module docstring), by Newton."""
        mean = x.mean(axis=0)
        u = x - mean
        scale = float(np.sqrt(np.mean(np.sum(u * u, axis=1)))) or 1.0
        u /= scale
        w0 = np.asarray(prior, np.float64) / (np.linalg.norm(prior) or 1.0)
        design = np.column_stack([u @ w0, u, np.ones(len(u))])
        penalty = np.full(design.shape[1], lam)
        penalty[0] = penalty[-1] = 1e-6
        theta = np.zeros(design.shape[1])
        target = y.astype(np.float64)
        for _ in range(NEWTON_STEPS):
            p = sigmoid(design @ theta)
            grad = design.T @ (p - target) + penalty * theta
            hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
            step = np.linalg.solve(hess, grad)
            theta -= step
            if np.max(np.abs(step)) < 1e-6:
                break
        w = (theta[0] * w0 + theta[1:-1]) / scale
        return cls(w, float(theta[-1] - w @ mean))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, c) of ``sigmoid(a * logit + c)`` fitted to ``y`` by Newton's method, with Platt's
    smoothed targets so that separable data still gives finite values."""
    s = np.asarray(logits, np.float64)
    sd = float(np.std(s)) or 1.0
    z = (s - s.mean()) / sd
    n_pos, n_neg = int(np.sum(y)), int(np.sum(~np.asarray(y, bool)))
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    design = np.column_stack([z, np.ones_like(z)])
    theta = np.zeros(2)
    for _ in range(50):
        p = sigmoid(design @ theta)
        grad = design.T @ (p - t) + 1e-6 * theta
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    a = theta[0] / sd
    return float(a), float(theta[1] - a * s.mean())


def operating_point(probs: np.ndarray, y: np.ndarray, target: float, *, by_recall: bool = False) -> float:
    """The threshold on ``probs`` for a target precision (or recall); see the module docstring."""
    order = np.argsort(-probs, kind="stable")
    p_sorted, y_sorted = probs[order], np.asarray(y, bool)[order]
    tp = np.cumsum(y_sorted)
    predicted = np.arange(1, len(p_sorted) + 1)
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]  # a threshold admits every tie at once
    precision, recall = tp / predicted, tp / max(1, int(y_sorted.sum()))
    if by_recall:
        ok = np.flatnonzero(last & (recall >= target))
        pick = ok[0] if ok.size else len(p_sorted) - 1
    else:
        ok = np.flatnonzero(last & (precision >= target))
        if ok.size:
            pick = ok[-1]
        else:
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall + 1e-300), 0)
            pick = int(np.argmax(np.where(last, f1, -1)))
    return float(np.clip(p_sorted[pick], 1e-6, 1 - 1e-6))
