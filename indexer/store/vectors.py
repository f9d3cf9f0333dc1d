"""The FAISS index of frame embeddings; its ids are frame row ids of the catalog, never
positions.

Kinds:
- ``flat``: ``IndexIDMap2(IndexFlatIP)``, exact; used while the index is small.
- ``ivf``: ``IndexIVFScalarQuantizer`` (SQ8, inner product) with the frame ids stored in
  its inverted lists, built by :func:`indexer.store.ivf.build_ivf` past
  :data:`IVF_THRESHOLD` vectors; its tuned ``nprobe`` is saved inside the index file.

A :class:`VectorIndex` is a *base* index (read from the file, possibly memory-mapped and
then read-only) plus, when the base is read-only, a small exact *delta* index for vectors
added since and a *hidden* id set for vectors removed since. Readers use that layering to
follow a writer without copying the file; the writer's base is mutable and is what
:meth:`VectorIndex.save` writes (temp file in the same directory, fsync, ``os.replace``,
fsync of the directory), so the file on disk is always a whole index.

:meth:`VectorIndex.reconcile` makes the index hold exactly the catalog's frames: it compares
(count, max id, sum of ids) first, so it costs one SQL aggregate when nothing changed; new
frames (ids above the largest indexed id) are appended; any other difference falls back to a
full comparison of id sets. FAISS is imported lazily (start-up time of the CLI).

Not thread-safe: :class:`~indexer.store.Store` serialises access with a lock.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexer.store.queries import FrameStats
from indexer.errors import StoreError
from indexer.store.faiss_ids import (faiss_module, id_array, id_selector, index_ids, member, merge_sorted,
                                     single_thread)

log = logging.getLogger(__name__)

IVF_THRESHOLD = 200_000  # vectors; below it exact search is fast enough (~5 ms at 512-d)
SINGLE_THREAD_QUERIES = 8  # searches of this few queries run on one thread (see single_thread)
SUBSET_OVERPROBE = 4  # IVF: nprobe multiplier when the search is restricted to some frames


class FrameSource(Protocol):
    """The catalog side of a reconcile/build: frame ids and their stored vectors."""

    def stats(self) -> FrameStats: ...

    def all_ids(self) -> np.ndarray: ...

    def vectors(self, ids: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def vectors_after(self, after_id: int) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...


@dataclass(frozen=True)
class ReconcileReport:
    """What :meth:`VectorIndex.reconcile` changed and how long it took."""

    added: int
    removed: int
    full_compare: bool
    seconds: float


class VectorIndex:
    """Frame vectors searchable by inner product, keyed by frame row id."""

    def __init__(self, dim: int, base: Any = None, *, mutable: bool = True,
                 ids: np.ndarray | None = None) -> None:
        faiss = faiss_module()
        self.dim = int(dim)
        self._base = base if base is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        if self._base.d != self.dim:
            raise StoreError(f"the vector index has dimension {self._base.d}, expected {self.dim}")
        self.mutable = mutable
        self._base_ids = index_ids(self._base) if ids is None else ids  # ids: sorted, known to match
        self._hidden = np.empty(0, np.int64)
        self._delta = None if mutable else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self._ids = self._base_ids

    # --- file -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, dim: int, *, mmap: bool = False) -> VectorIndex:
        """Read an index file; ``mmap`` maps it read-only (flat: IO_FLAG_MMAP_IFC, IVF:
        IO_FLAG_MMAP) so several processes share one copy in the page cache.

        Raises:
            StoreError: the file is unreadable, not a FAISS index of a known kind, or of
                another dimension.
        """
        faiss = faiss_module()
        try:
            with open(path, "rb") as fh:
                fourcc = fh.read(4)
            flags = 0
            if mmap:
                flags = faiss.IO_FLAG_MMAP_IFC if fourcc == b"IxM2" else faiss.IO_FLAG_MMAP
            before = file_signature(path)
            index = faiss.read_index(str(path), flags)  # already of its concrete type
            ids = read_id_list(path, before) if before is not None and before == file_signature(path) else None
        except (OSError, RuntimeError) as exc:
            raise StoreError(f"cannot read the vector index {path}: {exc}") from exc
        if not isinstance(index, (faiss.IndexIDMap2, faiss.IndexIVFScalarQuantizer)):
            raise StoreError(f"{path} holds an unexpected index type {type(index).__name__}")
        if ids is not None and len(ids) != index.ntotal:
            ids = None
        return cls(dim, index, mutable=not mmap, ids=ids)

    def save(self, path: Path) -> None:
        """Write the index atomically: temp file beside ``path``, fsync, rename, fsync dir.

        Raises:
            StoreError: the index is a read-only (memory-mapped) view, or writing failed.
        """
        if not self.mutable:
            raise StoreError("a memory-mapped vector index cannot be saved")
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            faiss_module().write_index(self._base, str(tmp))
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            write_id_list(path, self._base_ids, file_signature(tmp))  # names the file about to replace path
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except (OSError, RuntimeError) as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write the vector index {path}: {exc}") from exc

    # --- contents -------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """"flat" or "ivf"."""
        return "ivf" if isinstance(self._base, faiss_module().IndexIVF) else "flat"

    @property
    def nprobe(self) -> int | None:
        return int(self._base.nprobe) if self.kind == "ivf" else None

    @property
    def nlist(self) -> int | None:
        return int(self._base.nlist) if self.kind == "ivf" else None

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        """Sorted frame ids of every vector in the index."""
        return self._ids.copy()

    def stats(self) -> FrameStats:
        return FrameStats.of(self._ids)

    def _check(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), "
                             f"got {vectors.shape}")
        if member(self._ids, ids).any() or len(np.unique(ids)) != len(ids):
            raise ValueError("frame ids are already in the vector index")
        return vectors

    def add(self, ids: Any, vectors: np.ndarray) -> None:
        """Add vectors under the given frame ids (ids new to the index).

        Raises:
            ValueError: shapes disagree or an id is already present.
        """
        ids = id_array(ids)
        if self._hidden.size:  # re-shown frames of a read-only base: their vectors are there
            back = member(self._hidden, ids)
            self._hidden = np.setdiff1d(self._hidden, ids[back], assume_unique=True)
            self._ids = np.union1d(self._ids, ids[back])
            ids, vectors = ids[~back], np.asarray(vectors)[~back]
        vectors = self._check(ids, vectors)
        if not len(ids):
            return
        target = self._base if self.mutable else self._delta
        target.add_with_ids(vectors, ids)
        if self.mutable:
            self._base_ids = merge_sorted(self._base_ids, ids)
        self._ids = merge_sorted(self._ids, ids)

    def remove(self, ids: Any) -> int:
        """Remove the given frame ids (absent ones are ignored); return how many were removed."""
        ids = np.unique(id_array(ids))
        ids = ids[member(self._ids, ids)]
        if not len(ids):
            return 0
        faiss = faiss_module()
        if self.mutable:
            self._base.remove_ids(faiss.IDSelectorBatch(ids))
            self._base_ids = self._base_ids[~member(ids, self._base_ids)]
        else:
            in_base = member(self._base_ids, ids)
            self._hidden = np.union1d(self._hidden, ids[in_base])
            if (~in_base).any():
                self._delta.remove_ids(faiss.IDSelectorBatch(ids[~in_base]))
        self._ids = self._ids[~member(ids, self._ids)]
        return len(ids)

    def reconcile(self, source: FrameSource, *, full: bool = False) -> ReconcileReport:
        """Make the index hold exactly the frames of ``source`` (vectors read from it).

        Cheap when nothing changed (one stats comparison); ``full`` forces a comparison of
        the whole id sets.
        """
        began = time.perf_counter()
        added = removed = 0
        target = source.stats()
        compare = full or target != self.stats()
        if compare and not full and target.max_id > self.stats().max_id:
            for ids, vectors in source.vectors_after(self.stats().max_id):
                self.add(ids, vectors)
                added += len(ids)
            compare = target != self.stats()
        if compare:
            catalog_ids = source.all_ids()
            removed = self.remove(np.setdiff1d(self._ids, catalog_ids, assume_unique=True))
            missing = np.setdiff1d(catalog_ids, self._ids, assume_unique=True)
            for ids, vectors in source.vectors(missing):
                self.add(ids, vectors)
                added += len(ids)
        report = ReconcileReport(added, removed, compare, time.perf_counter() - began)
        if added or removed:
            log.info("vector index reconciled with the catalog: +%d -%d in %.3f s",
                     added, removed, report.seconds)
        return report

    # --- search ---------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, *,
               subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner products per query: (scores (q, k) float32, ids (q, k) int64).

        Missing results have id -1 and score -inf. ``subset`` (sorted frame ids) restricts
        the search to those frames with an IDSelectorBatch; an IVF base then probes
        ``SUBSET_OVERPROBE`` times more lists.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        q = len(queries)
        if not len(self._ids) or (subset is not None and not len(subset)):
            return np.full((q, k), -np.inf, np.float32), np.full((q, k), -1, np.int64)
        with single_thread() if q <= SINGLE_THREAD_QUERIES else nullcontext():
            scores, ids = self._search_base(queries, k, subset)
        if self._delta is not None and self._delta.ntotal:
            sel, _keep = id_selector(subset, None)
            params = faiss_module().SearchParameters(sel=sel) if sel is not None else None
            d2, i2 = self._delta.search(queries, k, params=params)
            scores, ids = np.hstack([scores, d2]), np.hstack([ids, i2])
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            scores, ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return scores, ids.astype(np.int64)

    def _search_base(self, queries: np.ndarray, k: int,
                     subset: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        faiss = faiss_module()
        sel, _keep = id_selector(subset, self._hidden)
        if self.kind == "ivf":
            nprobe = self._base.nprobe * (SUBSET_OVERPROBE if subset is not None else 1)
            params = faiss.SearchParametersIVF(nprobe=min(nprobe, self._base.nlist))
            if sel is not None:
                params.sel = sel
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
        return self._base.search(queries, k, params=params)

    def replace_base(self, base: Any) -> None:
        """Swap in a freshly built (mutable) base index holding the same ids."""
        self.__init__(self.dim, base, mutable=True)


# --- the id list beside the index file -----------------------------------------------------
# An IVF index keeps its ids inside its inverted lists: collecting them walks every list, which
# on a cold page cache reads pages all over the file (2.5 s at 1M frames). ``save`` writes the
# sorted ids beside the index, tagged with the signature of the index file they belong to; a
# list whose tag does not match the file it sits beside (another writer, a crash between the two
# renames) is ignored and the lists are walked as before.

def id_list_path(path: Path) -> Path:
    """Where the sorted ids of the index at ``path`` are kept."""
    return path.with_name(path.name + ".ids.npy")


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime in ns, size) of a file, or None if it does not exist; a writer's
    ``os.replace`` always changes it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def write_id_list(path: Path, ids: np.ndarray, signature: tuple[int, int, int]) -> None:
    """Write ``signature`` followed by the sorted ``ids`` beside ``path`` (atomic rename)."""
    target = id_list_path(path)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, np.concatenate([np.array(signature, dtype=np.int64), np.asarray(ids, dtype=np.int64)]))
    os.replace(tmp, target)


def read_id_list(path: Path, signature: tuple[int, int, int]) -> np.ndarray | None:
    """The ids saved beside ``path`` if they were written for the file with ``signature``."""
    try:
        saved = np.load(id_list_path(path), allow_pickle=False)
    except (OSError, ValueError):
        return None
    if saved.dtype != np.int64 or saved.ndim != 1 or len(saved) < 3 or tuple(saved[:3].tolist()) != signature:
        return None
    return saved[3:]
