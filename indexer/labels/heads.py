"""Learned category heads: a calibrated linear model over frame embeddings.

A head scores a frame embedding ``v`` as ``p = sigmoid(a * (w . v + b) + c)``: ``w``/``b`` are the
logistic regression fitted to curator judgements (:mod:`indexer.labels.fit`), ``a``/``c`` its Platt
calibration on held-out judgements, so ``p`` reads as the probability that the category is present.
``threshold`` is the operating point chosen for the category's target precision (or recall).
A head replaces a category's zero-shot score in a :class:`~indexer.labels.classify.LabelModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class LearnedHead:
    """A category's learned model; see the module docstring."""

    weights: np.ndarray  # (d,) float64
    bias: float
    platt: tuple[float, float]  # (a, c)
    threshold: float

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.ndim != 1 or not w.size or not np.all(np.isfinite(w)):
            raise ValueError("head weights must be a non-empty 1-d array of finite numbers")
        if not all(math.isfinite(x) for x in (self.bias, *self.platt)):
            raise ValueError("head bias and calibration must be finite")
        if not 0 < self.threshold < 1:
            raise ValueError(f"head threshold must be in (0, 1), got {self.threshold!r}")

    @property
    def dim(self) -> int:
        return int(np.asarray(self.weights).size)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """Uncalibrated scores ``w . v + b`` of (N, d) embeddings."""
        return np.asarray(vectors, dtype=np.float64) @ np.asarray(self.weights, dtype=np.float64) + self.bias

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N,) float64 of (N, d) embeddings."""
        a, c = self.platt
        return sigmoid(a * self.logits(vectors) + c)

    def params(self) -> dict[str, Any]:
        """Everything but the weights, JSON-able (the store keeps the weights as a BLOB)."""
        return {"bias": self.bias, "platt": list(self.platt), "threshold": self.threshold}

    @classmethod
    def from_params(cls, weights: np.ndarray, params: dict[str, Any]) -> LearnedHead:
        """Rebuild a head from :meth:`params` and its weights. Raises ValueError/KeyError."""
        a, c = params["platt"]
        return cls(np.asarray(weights, dtype=np.float64), float(params["bias"]), (float(a), float(c)),
                   float(params["threshold"]))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, computed without overflow."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out
