"""FAISS helpers around frame ids: lazy import, id arrays, sorted-set operations, selectors.

Frame row ids are the FAISS ids (never positions); these helpers read them back out of an index
and build the IDSelectors that restrict or hide ids during a search.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def faiss_module() -> Any:
    """The faiss module, imported on first use (keeps CLI start-up fast)."""
    import faiss

    return faiss


@contextmanager
def single_thread() -> Iterator[None]:
    """Run FAISS on the calling thread alone inside the block (OpenMP settings are per thread).

    One query is too small to split: OpenMP workers cost more in start-up and spinning than
    they save, and on a busy machine they wait for cores. Concurrent requests use the cores.
    """
    faiss = faiss_module()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def id_array(ids: Any) -> np.ndarray:
    """``ids`` as a flat contiguous int64 array (what FAISS expects)."""
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``ids`` are in ``sorted_ids`` (O(len(ids) log n))."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


def merge_sorted(sorted_ids: np.ndarray, new_ids: np.ndarray) -> np.ndarray:
    """Sorted union of ``sorted_ids`` and disjoint ``new_ids`` (fast path: appended ids)."""
    new_ids = np.sort(new_ids)
    if not len(sorted_ids) or (len(new_ids) and new_ids[0] > sorted_ids[-1]):
        return np.concatenate([sorted_ids, new_ids])
    return np.union1d(sorted_ids, new_ids)


def index_ids(index: Any) -> np.ndarray:
    """Sorted ids stored in a flat IDMap2 or an IVF index (walks the inverted lists)."""
    faiss = faiss_module()
    if isinstance(index, faiss.IndexIDMap2):
        return np.sort(faiss.vector_to_array(index.id_map).astype(np.int64))
    invlists = index.invlists
    parts = []
    for list_no in range(index.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ptr, size).copy())
            invlists.release_ids(list_no, ptr)
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)


#: Above this many ids an include set becomes a bitmap over the id range (built in about a
#: millisecond at a million frames) instead of an IDSelectorBatch hash set (about 14 ms for
#: 100k ids); below it the batch is cheaper than a bitmap as wide as the largest id.
BITMAP_FROM = 4096


def id_selector(include: np.ndarray | None, exclude: np.ndarray | None) -> tuple[Any, list]:
    """An IDSelector for ``id in include and id not in exclude`` (None = no condition), plus
    the objects that must stay alive while it is used."""
    faiss = faiss_module()
    keep: list = []
    sel = None
    if include is not None and len(include) > BITMAP_FROM and int(include.min()) >= 0:
        mask = np.zeros(int(include.max()) + 1, dtype=bool)
        mask[include] = True
        bits = np.packbits(mask, bitorder="little")  # bit (id & 7) of byte (id >> 3), as faiss reads it
        sel = faiss.IDSelectorBitmap(bits)
        keep += [bits, sel]
    elif include is not None:
        sel = faiss.IDSelectorBatch(include)
        keep.append(sel)
    if exclude is not None and len(exclude):
        batch = faiss.IDSelectorBatch(exclude)
        not_sel = faiss.IDSelectorNot(batch)
        keep += [batch, not_sel]
        sel = not_sel if sel is None else faiss.IDSelectorAnd(sel, not_sel)
        keep.append(sel)
    return sel, keep
