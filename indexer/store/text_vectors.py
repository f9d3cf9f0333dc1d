"""Text embeddings kept in the store, so what does not change is embedded once.

Keyed by the encoder's name (a fingerprint of its weights) and the exact text: taxonomy prompts
(``kind`` prompt: never evicted, so a changed taxonomy re-embeds only its changed prompts) and
query terms (``kind`` query: a bounded LRU, :data:`QUERY_CACHE_SIZE` per encoder). A text cached
as a query that becomes a prompt is promoted, never the reverse.

Read-only stores (the search CLI, the web server) read through the catalog's connection and
write the cache through a short-lived connection of their own: the cache is an optimisation,
so a cache that cannot be written (read-only file system) is skipped with a debug log line.

:class:`CachedTextEncoder` puts the cache in front of any ``Encoder``, fronted by a small
in-process LRU (a long-lived engine asks SQLite only for texts it has not seen lately): only texts
missing from both reach the model, which is then loaded at all only if something is missing.
It is the only text-embedding cache: search, labels, reports and the web all go through it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from indexer.store.catalog import BUSY_TIMEOUT_MS, Catalog

log = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 4096  # query texts kept per encoder (2 KiB each at 512-d)
MEMORY_SIZE = 512  # texts kept in process by each CachedTextEncoder, in front of the store
KINDS = ("prompt", "query")
_CHUNK = 500  # texts per SELECT (SQLite's parameter limit is far above)


class TextVectors:
    """The ``text_vectors`` table of one catalog."""

    def __init__(self, catalog: Catalog, query_cache_size: int = QUERY_CACHE_SIZE) -> None:
        if query_cache_size < 1:
            raise ValueError(f"query cache size must be >= 1, got {query_cache_size}")
        self.catalog = catalog
        self.query_cache_size = query_cache_size

    def get(self, encoder: str, texts: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The cached vectors of those ``texts`` that are cached for ``encoder`` (others are absent)."""
        wanted = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        with self.catalog.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT text, vector FROM text_vectors WHERE encoder = ? AND text IN ({marks})",
                                    (encoder, *chunk))
                for text, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,):
                        found[text] = vector
        return found

    def put(self, encoder: str, vectors: dict[str, np.ndarray], kind: str, *, touched: Sequence[str] = ()) -> None:
        """Store ``vectors`` (text -> (dim,) float32) and mark ``touched`` texts used now.

        Query rows beyond the LRU bound are evicted. Raises ValueError for an unknown kind.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not vectors and not touched:
            return
        now = time.time()
        rows = [(encoder, text, kind, np.asarray(v, dtype=np.float32).tobytes(), now) for text, v in vectors.items()]
        try:
            with self._writer() as conn:
                conn.executemany(
                    "INSERT INTO text_vectors (encoder, text, kind, vector, used_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (encoder, text) DO UPDATE SET used_at = excluded.used_at, "
                    "kind = CASE WHEN excluded.kind = 'prompt' THEN 'prompt' ELSE text_vectors.kind END", rows)
                conn.executemany("UPDATE text_vectors SET used_at = ? WHERE encoder = ? AND text = ?",
                                 [(now, encoder, text) for text in touched])
                if kind == "query" and vectors:
                    self._evict(conn, encoder)
        except sqlite3.Error as exc:
            log.debug("text vector cache not written (%s)", exc)

    def count(self, encoder: str, kind: str) -> int:
        """How many texts of ``kind`` are cached for ``encoder``."""
        with self.catalog.read() as conn:
            return int(conn.execute("SELECT count(*) FROM text_vectors WHERE encoder = ? AND kind = ?",
                                    (encoder, kind)).fetchone()[0])

    def _evict(self, conn: sqlite3.Connection, encoder: str) -> None:
        conn.execute(
            "DELETE FROM text_vectors WHERE encoder = ? AND kind = 'query' AND text NOT IN "
            "(SELECT text FROM text_vectors WHERE encoder = ? AND kind = 'query' ORDER BY used_at DESC LIMIT ?)",
            (encoder, encoder, self.query_cache_size))

    def _writer(self) -> Any:
        """A write transaction: the catalog's own, or a short-lived connection for a read-only store."""
        if not self.catalog.readonly:
            return self.catalog.write()
        return _OwnConnection(self.catalog)


class _OwnConnection:
    """``with``: one write transaction on a fresh connection to the catalog file, then closed."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self.conn = sqlite3.connect(f"file:{self.catalog.path}?mode=rw", uri=True, isolation_level=None,
                                    timeout=BUSY_TIMEOUT_MS / 1000)
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *exc: object) -> None:
        assert self.conn is not None
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()


class CachedTextEncoder:
    """An ``Encoder`` whose ``encode_texts`` asks an in-process LRU, then the store; everything else
    is ``encoder``'s. The one text-embedding cache of reelsearch (search, labels, reports, web).

    ``vectors`` None keeps only the in-process LRU (stores that are not a :class:`~indexer.store.Store`).
    ``kind`` says how new texts are kept (``prompt`` for a taxonomy, ``query`` for searches);
    ``memory`` bounds the LRU (texts).
    """

    def __init__(self, vectors: TextVectors | None, encoder: Any, kind: str = "query", *,
                 memory: int = MEMORY_SIZE) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if memory < 1:
            raise ValueError(f"memory must be >= 1 text, got {memory}")
        self.vectors, self.encoder, self.kind, self.memory = vectors, encoder, kind, memory
        self.name: str = encoder.name
        self.dim: int = int(encoder.dim)
        self.embedded = 0  # texts that reached the encoder (for tests and logs)
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # one model: concurrent encodes would only compete for the cores

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def image_size(self) -> int:
        return int(self.encoder.image_size)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return self.encoder.encode_images(images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32 rows as the encoder gives them; texts neither recent nor in the store are embedded (one
        batch), then kept in both.

        Raises whatever the encoder raises for the missing texts.
        """
        texts = list(texts)
        with self._lock:
            found = {t: self._recent[t] for t in dict.fromkeys(texts) if t in self._recent}
            wanted = [t for t in dict.fromkeys(texts) if t not in found]
            found.update(self._from_store(wanted) if wanted else {})
            for text in dict.fromkeys(texts):
                self._recent[text] = found[text]
                self._recent.move_to_end(text)
            while len(self._recent) > max(self.memory, len(found)):
                self._recent.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def _from_store(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors of ``texts`` from the store, the missing ones embedded and stored."""
        found = self.vectors.get(self.name, texts, self.dim) if self.vectors is not None else {}
        missing = [t for t in texts if t not in found]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            embedded = np.asarray(self.encoder.encode_texts(missing), dtype=np.float32)
            if embedded.shape != (len(missing), self.dim):
                raise ValueError(f"encoder {self.name!r} returned shape {embedded.shape} for {len(missing)} texts")
            fresh = dict(zip(missing, embedded))
            self.embedded += len(missing)
            log.debug("embedded %d of %d text(s); the rest came from the cache", len(missing), len(texts))
        if self.vectors is not None:
            self.vectors.put(self.name, fresh, self.kind, touched=list(found) if self.kind == "query" else ())
        return {**found, **fresh}
