"""A random sample of the index's frame vectors, kept per process and re-read when the index changes.

The relevance cutoff (:mod:`search.cutoff`) compares a query with its own score distribution
over this sample. The store keeps a pseudo-random key per frame and reads the frames with the
smallest keys through an index (``Store.sample_vectors``): a uniform sample of the archive's
frames whose cost does not grow with the archive, and the same frames in every process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_SIZE = 2048


class IndexSample:
    """Up to ``size`` frame vectors of ``store``, read on first use and whenever the number of
    vectors changes (thread-safe)."""

    def __init__(self, store: Any, size: int = SAMPLE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"sample size must be >= 1, got {size}")
        self.store, self.size = store, size
        self._key: object = None
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def vectors(self) -> np.ndarray:
        """(n, d) unit vectors, n <= size (0 rows for an empty index)."""
        key = self.store.vector_count()
        with self._lock:
            if self._vectors is None or key != self._key:
                self._vectors = np.asarray(self.store.sample_vectors(self.size), dtype=np.float32)
                self._key = key
                log.debug("index sample: %d vectors", len(self._vectors))
            return self._vectors
