"""A random sample of the index's frame vectors, kept per process and redrawn when the index changes.

The relevance cutoff (:mod:`search.cutoff`) compares a query with its own score distribution
over this sample. Frames are drawn from many videos (a few random frames of each of a random
set of videos) so the sample is not dominated by one long video.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_SIZE = 2048
MAX_VIDEOS = 256
MIN_PER_VIDEO = 4


class IndexSample:
    """Lazily drawn sample of up to ``size`` frame vectors of ``store`` (thread-safe)."""

    def __init__(self, store: Any, size: int = SAMPLE_SIZE, seed: int = 0) -> None:
        if size < 1:
            raise ValueError(f"sample size must be >= 1, got {size}")
        self.store, self.size, self.seed = store, size, seed
        self._key: object = None
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def vectors(self) -> np.ndarray:
        """(n, d) unit vectors, n <= size (0 rows for an empty index)."""
        key = self.store.vector_count()
        with self._lock:
            if self._vectors is None or key != self._key:
                self._vectors = self._draw()
                self._key = key
                log.debug("index sample: %d vectors", len(self._vectors))
            return self._vectors

    def _draw(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        videos = [v.id for v in self.store.list_videos()]
        rng.shuffle(videos)
        per_video = max(MIN_PER_VIDEO, math.ceil(self.size / max(1, min(len(videos), MAX_VIDEOS))))
        parts, total = [], 0
        for video_id in videos[:MAX_VIDEOS]:
            _, _, vectors = self.store.frames(video_id)
            if len(vectors) > per_video:
                vectors = vectors[rng.choice(len(vectors), per_video, replace=False)]
            parts.append(np.asarray(vectors, dtype=np.float32))
            total += len(vectors)
            if total >= self.size:
                break
        if not parts:
            return np.zeros((0, self.store.dim or 0), dtype=np.float32)
        return np.vstack(parts)[: self.size]
