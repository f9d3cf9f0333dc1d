"""Building the approximate index, and exact top-k helpers: IVF with 8-bit scalar quantisation (not PQ, which hurts
text queries), inner product, ids = frame row ids.

- ``nlist`` = 4 * sqrt(n) (at most n / 39 so every centroid has enough training points).
- The quantiser and the SQ8 ranges are trained on a random sample of 40 points per list
  (faiss wants >= 39; at 1M vectors: 160k x 512-d = 320 MB, the main cost of a build).
- Every vector is streamed from the catalog and added with ``add_with_ids``.
- ``nprobe`` is tuned against exact search on the same stream: the smallest value whose
  recall@10 reaches :data:`TUNE_RECALL` (a margin over the 0.95 target), or comes within
  :data:`PLATEAU_MARGIN` of probing every list where the 8-bit codes cap it lower, on held queries —
  half stored vectors with noise ("more like this"), half means of unrelated vectors (text
  queries sit between image clusters). It is stored in the index file.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.store.faiss_ids import faiss_module
from indexer.store.vectors import FrameSource

log = logging.getLogger(__name__)

TUNE_RECALL = 0.97
PLATEAU_MARGIN = 0.005  # recall@10 given up against probing every list when TUNE_RECALL is out of reach
TUNE_QUERIES = 200
RECALL_K = 10
TRAIN_PER_LIST = 40


@dataclass(frozen=True)
class IvfReport:
    """How an IVF index was built and how well it agrees with exact search."""

    vectors: int
    nlist: int
    nprobe: int
    recall_at_10: float
    seconds: float


def _sample_vectors(source: FrameSource, ids: np.ndarray, dim: int) -> np.ndarray:
    parts = [vectors for _, vectors in source.vectors(np.sort(ids))]
    return np.vstack(parts) if parts else np.zeros((0, dim), np.float32)


def _tune_queries(sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    half = TUNE_QUERIES // 2
    near = sample[rng.integers(0, len(sample), half)]
    near = near + rng.normal(0, 0.5 / math.sqrt(sample.shape[1]), near.shape)
    mixed = sample[rng.integers(0, len(sample), (TUNE_QUERIES - half, 3))].mean(axis=1)
    queries = np.vstack([near, mixed]).astype(np.float32)
    return queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)


def _merge_topk(best: tuple[np.ndarray, np.ndarray], scores: np.ndarray, ids: np.ndarray,
                k: int) -> tuple[np.ndarray, np.ndarray]:
    if scores.shape[1] > k:  # keep each query's k best of this batch before the full sort
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores, ids = np.take_along_axis(scores, part, 1), ids[part]
    else:
        ids = np.broadcast_to(ids, scores.shape)
    all_scores = np.hstack([best[0], scores])
    all_ids = np.hstack([best[1], ids])
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(all_scores, order, 1), np.take_along_axis(all_ids, order, 1)


def exact_topk(queries: np.ndarray, k: int,
                batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of ``queries`` over (ids, vectors) batches, padded with (-inf, -1)."""
    ids = np.concatenate([b[0] for b in batches])
    scores = queries @ np.vstack([b[1] for b in batches]).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, 1).astype(np.float32)
    top_ids = ids[order]
    pad = k - top_ids.shape[1]
    if pad > 0:
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        top_ids = np.pad(top_ids, ((0, 0), (0, pad)), constant_values=-1)
    return top_scores, top_ids


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean share of each query's exact top-k found in its approximate top-k."""
    hits = [len(set(a[a >= 0]) & set(e[e >= 0])) / max(1, (e >= 0).sum())
            for a, e in zip(approx_ids, exact_ids)]
    return float(np.mean(hits)) if hits else 1.0


def tune_nprobe(index: Any, queries: np.ndarray, exact_ids: np.ndarray) -> tuple[int, float]:
    """Smallest nprobe reaching TUNE_RECALL, or, where the 8-bit codes cap recall below it
    (near-identical neighbours reordered by quantisation, whatever lists are probed), within
    :data:`PLATEAU_MARGIN` of what probing every list reaches (doubling, then bisection).
    Returns (nprobe, its recall@10)."""
    def recall(nprobe: int) -> float:
        index.nprobe = nprobe
        return recall_at_k(index.search(queries, RECALL_K)[1], exact_ids)

    target = min(TUNE_RECALL, recall(index.nlist) - PLATEAU_MARGIN)
    low, high = 0, 1
    while high < index.nlist and recall(high) < target:
        low, high = high, min(index.nlist, high * 2)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if recall(mid) >= target else (mid, high)
    return high, recall(high)


def ivf_nlist(n: int) -> int:
    """Inverted lists for ``n`` vectors: 4 * sqrt(n), at most n / 39, at least 1."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def build_ivf(source: FrameSource, dim: int, *, seed: int = 0) -> tuple[Any, IvfReport]:
    """Build and tune an IVF-SQ8 index over every frame of ``source``.

    Returns (the index, its report). Raises ValueError if ``source`` holds no frames.
    """
    faiss = faiss_module()
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    all_ids = source.all_ids()
    n = len(all_ids)
    if n == 0:
        raise ValueError("cannot build an IVF index without vectors")
    nlist = ivf_nlist(n)
    sample_ids = rng.choice(all_ids, min(n, TRAIN_PER_LIST * nlist), replace=False)
    sample = _sample_vectors(source, sample_ids, dim)
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                          faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(sample)
    queries = _tune_queries(sample, rng)
    best = (np.full((len(queries), RECALL_K), -np.inf, np.float32),
            np.full((len(queries), RECALL_K), -1, np.int64))
    for ids, vectors in source.vectors_after(0):
        index.add_with_ids(vectors, ids)
        best = _merge_topk(best, queries @ vectors.T, ids, RECALL_K)
    nprobe, recall = tune_nprobe(index, queries, best[1])
    index.nprobe = nprobe
    report = IvfReport(n, nlist, nprobe, round(recall, 4), time.perf_counter() - began)
    log.info("built IVF-SQ8 index: %d vectors, nlist %d, nprobe %d, recall@10 %.3f in %.1f s",
             n, nlist, nprobe, recall, report.seconds)
    return index, report
