"""Sharded vector search: the frame vectors split by video into shards, each held by a Ray actor.

Past one machine's RAM the vector index is split: video ``v`` lives in shard ``v % n``, and each
:class:`VectorShard` actor holds a FAISS index of its frames (exact, IVF-SQ8, IVF-PQ or
OPQ+IVF-PQ; :data:`KINDS`). :class:`ShardedVectors` fans a query out to every shard (restricted
to each shard's part of ``video_ids`` when given) and merges the per-shard top-k into the global
top-k: with exact shards that is exactly what one exact index over the same vectors returns.
:class:`ShardedStore` is a Store whose ``search_vectors`` is answered by the shards, so the search
engine runs unchanged on top. Shards load the store's vectors when they start and follow the
catalog from then on: before each search :meth:`ShardedVectors.sync` compares the catalog's frame
generation with the one the shards hold (one small query) and, when it moved, sends the frames of
videos indexed since to their shards and removes those of deleted or re-indexed videos. Ray is
passed in by the caller (connected already); FAISS loads lazily.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from indexer.errors import NotFoundError
from indexer.store.faiss_ids import id_selector

log = logging.getLogger(__name__)

#: Index kinds a shard can hold (see README "Beyond one machine" for memory and recall).
KINDS = ("flat", "ivf-sq8", "ivf-pq", "opq-ivf-pq")
PQ_BYTES = 64  # bytes per vector of the PQ codes (64 sub-quantisers of 8 bits; fewer if dim is smaller)
SEND_BATCH = 50_000  # vectors per add() call to an actor
TRAIN_SAMPLE = 100_000  # vectors an IVF quantiser is trained on
OPQ_SAMPLE, OPQ_ITERATIONS = 20_000, 10  # the OPQ rotation's training (FAISS: 65,536 and 50: far too slow)


def factory_string(kind: str, dim: int, count: int) -> str:
    """The FAISS index_factory description of ``kind`` for ``count`` vectors of ``dim``.

    Raises: ValueError (unknown kind).
    """
    nlist = max(1, min(4 * int(math.sqrt(max(count, 1))), count // 39 or 1))
    m = next(m for m in range(min(PQ_BYTES, dim), 0, -1) if dim % m == 0)  # sub-quantisers must divide dim
    descriptions = {"flat": "IDMap2,Flat", "ivf-sq8": f"IVF{nlist},SQ8", "ivf-pq": f"IVF{nlist},PQ{m}x8",
                    "opq-ivf-pq": f"OPQ{m},IVF{nlist},PQ{m}x8"}
    if kind not in descriptions:
        raise ValueError(f"shard index kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return descriptions[kind]


class VectorShard:
    """The body of a shard actor: the frames of some videos in one FAISS index."""

    def __init__(self, dim: int, kind: str = "flat", nprobe: int = 16) -> None:
        factory_string(kind, dim, 1)  # validates kind
        self.dim, self.kind, self.nprobe = dim, kind, nprobe
        self._vectors: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self.frames_of: dict[int, np.ndarray] = {}  # video id -> its frame ids
        self.index: Any = None

    def add(self, video_ids: list[int], frame_ids: list[np.ndarray], vectors: np.ndarray) -> int:
        """Take the frames of ``video_ids``: kept for :meth:`build` before it, added to the
        (trained) index after it. Returns the number of frames held now."""
        for video, ids in zip(video_ids, frame_ids):
            self.frames_of[int(video)] = np.asarray(ids, np.int64)
        ids = np.concatenate(frame_ids).astype(np.int64) if frame_ids else np.zeros(0, np.int64)
        vectors = np.asarray(vectors, np.float32).reshape(-1, self.dim)
        if self.index is None:
            self._ids.append(ids)
            self._vectors.append(vectors)
            return sum(len(i) for i in self._ids)
        if len(ids):
            self.index.add_with_ids(vectors, ids)
        return int(self.index.ntotal)

    def remove(self, video_ids: list[int]) -> int:
        """Forget the frames of ``video_ids`` (after :meth:`build`); returns frames removed."""
        import faiss

        gone = [self.frames_of.pop(int(v)) for v in video_ids if int(v) in self.frames_of]
        if not gone or self.index is None:
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(np.concatenate(gone))))

    def build(self) -> dict[str, Any]:
        """Train (IVF kinds on at most TRAIN_SAMPLE vectors, the OPQ rotation on OPQ_SAMPLE) and
        fill the index; returns its kind, size in vectors and bytes."""
        import faiss

        vectors = np.concatenate(self._vectors) if self._vectors else np.zeros((0, self.dim), np.float32)
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        self._vectors, self._ids = [], []
        kind = self.kind if len(vectors) >= 1000 else "flat"  # too few to train a quantiser
        self.index = faiss.index_factory(self.dim, factory_string(kind, self.dim, len(vectors)),
                                         faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None and hasattr(faiss.downcast_index(ivf), "do_polysemous_training"):
            faiss.downcast_index(ivf).do_polysemous_training = False  # minutes of training, unused here
        if isinstance(self.index, faiss.IndexPreTransform):
            opq = faiss.downcast_VectorTransform(self.index.chain.at(0))
            opq.max_train_points, opq.niter = OPQ_SAMPLE, OPQ_ITERATIONS
        if not self.index.is_trained:
            sample = vectors[np.random.default_rng(0).permutation(len(vectors))[:TRAIN_SAMPLE]]
            self.index.train(sample)
        if len(vectors):
            self.index.add_with_ids(vectors, ids)
        return {"kind": kind, "vectors": int(self.index.ntotal), "bytes": len(faiss.serialize_index(self.index))}

    def search(self, queries: np.ndarray, k: int, videos: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` frames of this shard (of ``videos`` only, when given): (scores, ids), -1/-inf padded."""
        import faiss

        queries = np.asarray(queries, np.float32).reshape(-1, self.dim)
        empty = (np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64))
        if self.index is None or self.index.ntotal == 0:
            return empty
        selector, _keep = None, []
        if videos is not None:
            chosen = [self.frames_of[v] for v in videos if v in self.frames_of]
            if not chosen:
                return empty
            selector, _keep = id_selector(np.concatenate(chosen), None)  # a bitmap for large sets
        params = self._params(faiss, selector)
        scores, ids = self.index.search(queries, k, params=params)
        scores[ids < 0] = -np.inf
        return scores.astype(np.float32), ids.astype(np.int64)

    def _params(self, faiss: Any, selector: Any) -> Any:
        """Search parameters: ``nprobe`` for IVF kinds, the selector, through an OPQ transform."""
        ivf = faiss.try_extract_index_ivf(self.index)
        inner = faiss.SearchParametersIVF(nprobe=self.nprobe) if ivf is not None else faiss.SearchParameters()
        if selector is not None:
            inner.sel = selector
        if not isinstance(self.index, faiss.IndexPreTransform):
            return inner
        outer = faiss.SearchParametersPreTransform()
        outer.index_params = inner
        outer.keep = (inner, selector)  # the SWIG objects must outlive the search
        return outer


def merge_topk(parts: Iterable[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The global top ``k`` of per-shard results (each (scores, ids) of shape (q, k_i)), best first;
    ties by frame id, so the order does not depend on which shard answered first."""
    parts = list(parts)
    scores = np.concatenate([p[0] for p in parts], axis=1)
    ids = np.concatenate([p[1] for p in parts], axis=1)
    order = np.lexsort((ids, -scores), axis=1)[:, :k] if scores.size else np.zeros((len(scores), 0), np.int64)
    top_scores, top_ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
    pad = k - top_ids.shape[1]
    if pad > 0:
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        top_ids = np.pad(top_ids, ((0, 0), (0, pad)), constant_values=-1)
    return top_scores.astype(np.float32), top_ids.astype(np.int64)


class ShardedVectors:
    """``shards`` shard actors on the Ray cluster ``ray`` (connected), loaded from ``store``."""

    def __init__(self, ray: Any, store: Any, shards: int, kind: str = "flat", nprobe: int = 16) -> None:
        """Start the actors and load every stored frame vector into its video's shard.

        Raises: ValueError (shards < 1, unknown kind), StoreError (no encoder bound).
        """
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.ray, self.count = ray, shards
        dim = store.dim
        actor = ray.remote(num_cpus=0)(VectorShard)
        self.actors = [actor.remote(dim, kind, nprobe) for _ in range(shards)]
        self._lock = threading.Lock()
        self.generation, self.layout = store.frame_layout()  # what the shards hold
        self._send_frames(store, sorted(self.layout))
        self.info = ray.get([a.build.remote() for a in self.actors])
        log.info("vector shards: %s", self.info)

    def sync(self, store: Any) -> bool:
        """Make the shards hold what the catalog of ``store`` holds now: frames of videos indexed
        since are added, those of deleted or re-indexed videos removed. Cheap when nothing
        changed. Returns whether anything did."""
        with self._lock:
            generation, layout = store.frame_layout()
            if generation == self.generation:
                return False
            stale = [v for v, frames in self.layout.items() if layout.get(v) != frames]
            fresh = sorted(v for v, frames in layout.items() if self.layout.get(v) != frames)
            by_shard: dict[int, list[int]] = defaultdict(list)
            for video in stale:
                by_shard[video % self.count].append(video)
            self.ray.get([self.actors[shard].remove.remote(videos) for shard, videos in by_shard.items()])
            self._send_frames(store, fresh)
            self.generation, self.layout = generation, layout
            log.info("vector shards: %d video(s) removed or replaced, %d added", len(stale), len(fresh))
            return True

    def _send_frames(self, store: Any, videos: list[int]) -> None:
        """Send the stored frames of ``videos`` to their shards, SEND_BATCH vectors a call."""
        pending: dict[int, list] = defaultdict(list)  # shard -> [(video, ids, vectors)]
        sizes: dict[int, int] = defaultdict(int)
        refs = []
        for video in videos:
            try:
                ids, _times, vectors = store.frames(video)
            except NotFoundError:  # deleted since the layout was read: the next sync settles it
                continue
            shard = video % self.count
            pending[shard].append((video, ids, vectors))
            sizes[shard] += len(ids)
            if sizes[shard] >= SEND_BATCH:
                refs.append(self._send(shard, pending.pop(shard)))
                sizes[shard] = 0
        refs += [self._send(shard, batch) for shard, batch in pending.items()]
        self.ray.get(refs)

    def _send(self, shard: int, batch: list) -> Any:
        videos = [v for v, _ids, _vectors in batch]
        vectors = np.concatenate([vec for _v, _ids, vec in batch])
        return self.actors[shard].add.remote(videos, [ids for _v, ids, _vec in batch], vectors)

    def search(self, queries: np.ndarray, k: int, video_ids: Iterable[int] | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Fan ``queries`` out to every shard and merge: (scores (q, k), frame ids (q, k))."""
        queries = np.asarray(queries, np.float32)
        queries = queries.reshape(1, -1) if queries.ndim == 1 else queries
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if video_ids is None:
            refs = [a.search.remote(queries, k) for a in self.actors]
        else:
            wanted = sorted({int(v) for v in video_ids})
            refs = [a.search.remote(queries, k, [v for v in wanted if v % self.count == shard])
                    for shard, a in enumerate(self.actors)]
        return merge_topk(self.ray.get(refs), k)

    def close(self) -> None:
        """Stop the shard actors."""
        for actor in self.actors:
            self.ray.kill(actor)


class ShardedStore:
    """A Store whose vector search is answered by :class:`ShardedVectors`; everything else
    (catalog reads, exact re-scoring from stored embeddings) by the store itself."""

    def __init__(self, store: Any, shards: ShardedVectors) -> None:
        self._store, self.shards = store, shards

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def search_vectors(self, queries: np.ndarray, k: int, *,
                       video_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`Store.search_vectors`, answered by the shards (brought up to date first)."""
        self.shards.sync(self._store)
        return self.shards.search(queries, k, video_ids)
