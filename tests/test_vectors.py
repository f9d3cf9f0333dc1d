"""Tests of indexer.store.vectors / indexer.store.ivf on real FAISS indexes (tiny dim)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.store.queries import FrameStats
from indexer.errors import StoreError
from indexer.store.vectors import VectorIndex
from indexer.store.ivf import build_ivf, exact_topk, recall_at_k

DIM = 16


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class DictSource:
    """An in-memory FrameSource (frame id -> vector), counting how it is read."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.rows = dict(zip(ids.tolist(), vectors))
        self.full_reads = 0

    def stats(self) -> FrameStats:
        return FrameStats.of(np.array(sorted(self.rows), dtype=np.int64))

    def all_ids(self) -> np.ndarray:
        self.full_reads += 1
        return np.array(sorted(self.rows), dtype=np.int64)

    def vectors(self, ids: np.ndarray):
        ids = [int(i) for i in ids if int(i) in self.rows]
        if ids:
            yield np.array(ids, np.int64), np.stack([self.rows[i] for i in ids])

    def vectors_after(self, after_id: int):
        yield from self.vectors(np.array([i for i in sorted(self.rows) if i > after_id]))


def clustered(rng: np.random.Generator, n: int, centres: int = 200) -> np.ndarray:
    """Frame-like vectors: shot centres with small drift around them."""
    c = unit(rng, centres)
    v = c[rng.integers(0, centres, n)] + rng.normal(0, 0.15, (n, DIM)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_ids_are_frame_ids_not_positions() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 50)
    ids = np.arange(1000, 1100, 2)  # sparse, non-zero-based
    index = VectorIndex(DIM)
    index.add(ids, vectors)
    scores, found = index.search(vectors[[3, 40]], 1)
    assert found[:, 0].tolist() == [ids[3], ids[40]]
    assert scores[:, 0] == pytest.approx(1.0, abs=1e-5)
    assert index.remove(ids[:10]) == 10
    assert index.remove([999_999]) == 0
    index.add([5000], vectors[[3]])  # a "re-inserted" row gets a new id
    assert index.search(vectors[[3]], 1)[1][0, 0] == 5000
    assert index.search(vectors[[40]], 1)[1][0, 0] == ids[40]
    assert index.ids().tolist() == sorted(ids[10:].tolist() + [5000])


def test_add_rejects_duplicates_and_bad_shapes() -> None:
    index = VectorIndex(DIM)
    v = unit(np.random.default_rng(2), 3)
    index.add([1, 2, 3], v)
    with pytest.raises(ValueError):
        index.add([3], v[:1])
    with pytest.raises(ValueError):
        index.add([4, 5], v[:1])


def test_search_pads_missing_and_restricts_to_subset() -> None:
    rng = np.random.default_rng(3)
    v = unit(rng, 20)
    index = VectorIndex(DIM)
    scores, ids = index.search(v[:1], 5)
    assert ids.tolist() == [[-1] * 5] and np.isneginf(scores).all()
    index.add(np.arange(1, 21), v)
    scores, ids = index.search(v[:1], 5, subset=np.array([4, 9]))
    assert set(ids[0, :2].tolist()) == {4, 9} and ids[0, 2:].tolist() == [-1, -1, -1]
    assert np.isneginf(scores[0, 2:]).all()


def test_a_large_subset_restricts_exactly_as_a_small_one() -> None:
    """Past BITMAP_FROM ids the subset is a bitmap over the id range instead of a hash set:
    the same frames, and none outside it, also with ids beyond the last byte boundary."""
    from indexer.store.faiss_ids import BITMAP_FROM

    rng = np.random.default_rng(11)
    n = 3 * BITMAP_FROM + 5
    v = unit(rng, n)
    ids = np.arange(7, 7 + n) * 3  # sparse ids, not starting at 0
    index = VectorIndex(DIM)
    index.add(ids, v)
    subset = np.sort(rng.choice(ids, 2 * BITMAP_FROM + 3, replace=False))
    subset = np.append(subset[subset < ids[-1]], ids[-1])  # the largest id is in it
    queries = unit(rng, 6)
    scores, got = index.search(queries, 10, subset=subset)
    chosen = np.isin(ids, subset)
    want_scores, want = exact_topk(queries, 10, [(ids[chosen], v[chosen])])
    assert got.tolist() == want.tolist()
    assert np.allclose(scores, want_scores, atol=1e-5)
    small = subset[:BITMAP_FROM // 2]  # the hash-set path, same rule
    assert np.isin(index.search(queries, 10, subset=small)[1], small).all()


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    v = unit(rng, 30)
    index = VectorIndex(DIM)
    index.add(np.arange(10, 40), v)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.ids.npy"]  # no temp left
    for mmap in (False, True):
        loaded = VectorIndex.load(path, DIM, mmap=mmap)
        assert loaded.ids().tolist() == list(range(10, 40))
        assert loaded.search(v[[7]], 1)[1][0, 0] == 17


def test_load_refuses_garbage_and_wrong_dim(tmp_path: Path) -> None:
    bad = tmp_path / "bad.faiss"
    bad.write_bytes(b"IxM2 not really an index")
    with pytest.raises(StoreError):
        VectorIndex.load(bad, DIM)
    good = tmp_path / "good.faiss"
    VectorIndex(DIM).save(good)
    with pytest.raises(StoreError, match="dimension"):
        VectorIndex.load(good, DIM * 2)


def test_mmapped_index_layers_changes_without_touching_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    v = unit(rng, 40)
    writer = VectorIndex(DIM)
    writer.add(np.arange(1, 31), v[:30])
    path = tmp_path / "vectors.faiss"
    writer.save(path)
    reader = VectorIndex.load(path, DIM, mmap=True)
    assert not reader.mutable
    reader.remove([5, 6])
    reader.add(np.arange(31, 41), v[30:])
    assert 5 not in reader.search(v[[4]], 3)[1][0]
    assert reader.search(v[[35]], 1)[1][0, 0] == 36
    reader.add([5], v[[4]])  # shown again: the base still holds its vector
    assert reader.search(v[[4]], 1)[1][0, 0] == 5
    assert reader.ids().tolist() == [i for i in range(1, 41) if i != 6]
    with pytest.raises(StoreError):
        reader.save(path)


def test_reconcile_cheap_when_equal_and_repairs_differences() -> None:
    rng = np.random.default_rng(6)
    ids = np.arange(1, 201)
    v = unit(rng, 200)
    source = DictSource(ids, v)
    index = VectorIndex(DIM)
    first = index.reconcile(source)
    assert first.added == 200 and source.full_reads == 0  # appended ids: no full comparison
    again = index.reconcile(source)
    assert (again.added, again.removed, again.full_compare) == (0, 0, False)
    # simulate a crash: some vectors missing, some extra ids whose rows are gone
    index.remove(np.arange(50, 60))
    index.add([9001, 9002], v[:2])
    report = index.reconcile(source)
    assert (report.added, report.removed, report.full_compare) == (10, 2, True)
    assert index.ids().tolist() == ids.tolist()
    assert index.search(v[[55]], 1)[1][0, 0] == 56


def test_exact_topk_pads() -> None:
    v = unit(np.random.default_rng(7), 3)
    scores, ids = exact_topk(v[:1], 5, [(np.array([7, 8, 9]), v)])
    assert ids[0, 0] == 7 and ids[0, 3:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 3:]).all()


def test_ivf_recall_at_10_against_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    vectors = clustered(rng, n)
    ids = np.arange(1, n + 1) * 3  # frame ids, not positions
    source = DictSource(ids, vectors)
    base, report = build_ivf(source, DIM)
    assert report.vectors == n and report.nprobe <= report.nlist
    index = VectorIndex(DIM, base)
    assert index.kind == "ivf" and index.ids().tolist() == ids.tolist()
    # fresh queries (not the tuning ones): noisy stored vectors and mixtures
    near = vectors[rng.integers(0, n, 100)] + rng.normal(0, 0.1, (100, DIM))
    mixed = vectors[rng.integers(0, n, (100, 2))].mean(axis=1)
    queries = np.vstack([near, mixed]).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = exact_topk(queries, 10, [(ids, vectors)])[1]
    approx = index.search(queries, 10)[1]
    assert recall_at_k(approx, exact) >= 0.95
    path = tmp_path / "ivf.faiss"
    index.save(path)
    mapped = VectorIndex.load(path, DIM, mmap=True)
    assert mapped.kind == "ivf" and mapped.nprobe == report.nprobe
    assert recall_at_k(mapped.search(queries, 10)[1], exact) >= 0.95
    sub = np.sort(ids[:500])
    got = mapped.search(queries[:5], 10, subset=sub)[1]
    assert np.isin(got[got >= 0], sub).all()


def test_nprobe_stops_where_quantisation_caps_recall() -> None:
    """Clusters of near-identical vectors: 8-bit codes reorder their members whatever lists are
    probed, so recall@10 stays below TUNE_RECALL even probing all; the tuner must not fall back
    to probing every list (an exhaustive scan per query) but stop where recall levels off."""
    import faiss

    from indexer.store.ivf import PLATEAU_MARGIN, TUNE_RECALL, tune_nprobe

    rng = np.random.default_rng(9)
    centres = unit(rng, 400)
    vectors = np.repeat(centres, 30, axis=0) + rng.normal(0, 2e-3, (12_000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(DIM), DIM, 128, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    queries = vectors[rng.integers(0, len(vectors), 100)]
    exact = exact_topk(queries, 10, [(np.arange(len(vectors)), vectors)])[1]
    index.nprobe = 128
    everything = recall_at_k(index.search(queries, 10)[1], exact)
    assert everything < TUNE_RECALL  # the premise: quantisation caps recall
    nprobe, recall = tune_nprobe(index, queries, exact)
    assert nprobe < 128 // 4 and recall >= everything - PLATEAU_MARGIN


def test_the_id_list_beside_the_file_spares_walking_the_lists_and_is_ignored_when_stale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``save`` writes the sorted ids beside the index, tagged with the file they belong to;
    ``load`` uses them instead of walking every inverted list, unless the tag does not match
    the file (replaced since by another writer) or the list is damaged."""
    import indexer.store.vectors as vectors_module
    from indexer.store.vectors import id_list_path

    rng = np.random.default_rng(12)
    ids = np.sort(rng.choice(10_000, 300, replace=False)).astype(np.int64)
    index = VectorIndex(DIM)
    index.add(ids, unit(rng, 300))
    path = tmp_path / "vectors.faiss"
    index.save(path)
    assert id_list_path(path).exists()
    walked = []
    real_walk = vectors_module.index_ids
    monkeypatch.setattr(vectors_module, "index_ids", lambda base: walked.append(1) or real_walk(base))
    loaded = VectorIndex.load(path, DIM, mmap=True)
    assert loaded.ids().tolist() == ids.tolist() and walked == []
    other = VectorIndex(DIM)  # another writer replaces the index file; the old list stays
    other.add(ids[:5], unit(rng, 5))
    list_before = id_list_path(path).read_bytes()
    other.save(tmp_path / "elsewhere.faiss")
    (tmp_path / "elsewhere.faiss").replace(path)
    id_list_path(path).write_bytes(list_before)
    walked.clear()
    assert VectorIndex.load(path, DIM).ids().tolist() == ids[:5].tolist() and walked == [1]
    id_list_path(path).write_bytes(b"not an array")
    assert VectorIndex.load(path, DIM, mmap=True).ids().tolist() == ids[:5].tolist() and walked == [1, 1]
