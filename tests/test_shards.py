"""Sharded vector search (indexer.store.shards): shards split by video on a real local Ray
cluster answer exactly as one exact index over the same vectors, restricted searches included,
and the search engine on a ShardedStore returns the same results as on the store."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.models.colour import ColourEncoder
from indexer.models.loading import encoder_spec
from indexer.store import Store
from indexer.store.catalog import NewVideo
from indexer.store.shards import KINDS, ShardedStore, ShardedVectors, VectorShard, merge_topk
from indexer.types import VideoInfo

DIM = 32


def _unit(rng, shape) -> np.ndarray:
    v = rng.standard_normal(shape).astype(np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _write(store: Store, name: str, vectors: np.ndarray) -> int:
    times = np.arange(len(vectors)) * 0.5
    info = VideoInfo(Path(f"/synthetic/{name}.mp4"), len(vectors) * 0.5, Fraction(25), 320, 240, 0, 0.0, "h264")
    return store.write_video(NewVideo(info.path, f"hash-{name}", 1000, 0.0, info, 0.5), times,
                             (times * 90000).astype(np.int64), vectors, [], [])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """40 videos of 5-60 random frames each (no ties between scores)."""
    rng = np.random.default_rng(7)
    with Store.open(tmp_path_factory.mktemp("shards")) as s:
        encoder = ColourEncoder()
        s.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        for i in range(40):
            _write(s, f"v{i:02d}", _unit(rng, (int(rng.integers(5, 60)), DIM)))
        yield s


def test_shards_on_ray_equal_one_exact_index(store, ray_session):
    queries = _unit(np.random.default_rng(3), (6, DIM))
    sharded = ShardedVectors(ray_session, store, 3)
    try:
        assert sum(info["vectors"] for info in sharded.info) == store.vector_count()
        for k in (1, 10, 200):
            expected, got = store.search_vectors(queries, k), sharded.search(queries, k)
            np.testing.assert_array_equal(got[1], expected[1])
            np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
        videos = [2, 3, 11, 30]
        expected, got = store.search_vectors(queries, 25, video_ids=videos), sharded.search(queries, 25, videos)
        np.testing.assert_array_equal(got[1], expected[1])
        assert sharded.search(queries, 5, [])[1].tolist() == [[-1] * 5] * 6
    finally:
        sharded.close()


def test_search_engine_on_a_sharded_store_gives_the_same_results(store, ray_session):
    from search.engine import SearchEngine

    sharded = ShardedVectors(ray_session, store, 2)
    try:
        encoder = ColourEncoder()
        for video_id in (5, 22):
            one = SearchEngine(store, encoder).search_like(video_id, 0.0, k=5, min_score=0.2)
            many = SearchEngine(ShardedStore(store, sharded), encoder).search_like(video_id, 0.0, k=5, min_score=0.2)
            assert one.results and [r.to_dict(i) for i, r in enumerate(many.results)] == \
                [r.to_dict(i) for i, r in enumerate(one.results)]
    finally:
        sharded.close()


def test_merge_takes_the_global_top_k_and_pads():
    a = (np.array([[0.9, 0.5]], np.float32), np.array([[4, 7]]))
    b = (np.array([[0.7, -np.inf]], np.float32), np.array([[2, -1]]))
    scores, ids = merge_topk([a, b], 3)
    assert ids.tolist() == [[4, 2, 7]] and scores[0, 1] == pytest.approx(0.7)
    scores, ids = merge_topk([b], 3)
    assert ids.tolist() == [[2, -1, -1]] and np.isneginf(scores[0, 1:]).all()


@pytest.fixture()
def one_faiss_thread():
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.mark.parametrize("kind", KINDS[:3])  # OPQ trains for minutes on a loaded CPU: benchmarks/bench_ray.py
def test_every_index_kind_finds_a_stored_vector_as_its_own_nearest(kind, one_faiss_thread):
    rng = np.random.default_rng(0)
    vectors = _unit(rng, (3000, DIM))  # enough to train IVF (76 lists) and PQ
    shard = VectorShard(DIM, kind, nprobe=64)
    shard.add(list(range(30)), [np.arange(i * 100, (i + 1) * 100) for i in range(30)], vectors)
    info = shard.build()
    assert (info["kind"], info["vectors"]) == (kind, 3000) and info["bytes"] > 0
    _scores, ids = shard.search(vectors[[5, 1500]], 1)
    assert ids[:, 0].tolist() == [5, 1500]
    _scores, ids = shard.search(vectors[[5]], 3, [15])  # only video 15 (frames 1500-1599)
    assert all(1500 <= i < 1600 for i in ids[0])


def test_web_archive_with_shards_searches_them_with_the_same_results(store, ray_session):
    from web.archive import Archive

    sharded = Archive(store.data_dir, shards=3)
    plain = Archive(store.data_dir)
    try:
        engine = sharded.engine()
        assert isinstance(engine.store, ShardedStore) and engine.store.shards.count == 3
        one = plain.engine().search_like(7, 0.0, k=5, min_score=0.2)
        many = engine.search_like(7, 0.0, k=5, min_score=0.2)
        assert one.results and [r.to_dict(i) for i, r in enumerate(many.results)] == \
            [r.to_dict(i) for i, r in enumerate(one.results)]
    finally:
        engine.store.shards.close()
        sharded.close()
        plain.close()


def test_serve_with_shards_without_ray_says_how_to_get_it(store, monkeypatch):
    import sys

    from click.testing import CliRunner

    from web.cli import serve

    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(serve, ["--shards", "2", "--data-dir", str(store.data_dir)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: distributed work needs Ray: pip install 'reelsearch[ray]'"


def test_a_running_sharded_server_sees_videos_indexed_replaced_and_deleted_after_it_started(tmp_path, ray_session):
    from web.archive import Archive

    rng = np.random.default_rng(11)
    with Store.open(tmp_path) as writer:
        encoder = ColourEncoder()
        writer.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        for i in range(6):
            _write(writer, f"v{i}", _unit(rng, (20, DIM)))
    archive = Archive(tmp_path, shards=2)  # as `serve --shards 2`: the shards load the 6 videos now
    queries = _unit(np.random.default_rng(5), (4, DIM))
    try:
        sharded = archive.engine().store
        assert sharded.shards.sync(sharded._store) is False  # nothing changed: nothing sent
        with Store.open(tmp_path) as writer:  # another process indexes while the server runs
            added = [_write(writer, f"new{i}", _unit(rng, (15, DIM))) for i in range(3)]
            _write(writer, "v2", _unit(rng, (25, DIM)))  # re-indexed: same id, new frames
            writer.delete_video(4)
        reader = archive.reader()  # what the next request does
        assert archive.engine().store is sharded  # the same shards, not reloaded
        got = sharded.search_vectors(queries, 300)
        expected = reader.search_vectors(queries, 300)
        np.testing.assert_array_equal(got[1], expected[1])
        held = set(got[1][got[1] >= 0].tolist())
        assert held == set(reader.vector_ids().tolist())  # k covers every frame: all of them, no others
        assert set(reader.frame_videos(sorted(held)).tolist()) == {1, 2, 3, 5, 6, *added}
        videos = [2, added[0]]
        np.testing.assert_array_equal(sharded.search_vectors(queries, 10, video_ids=videos)[1],
                                      reader.search_vectors(queries, 10, video_ids=videos)[1])
    finally:
        archive.engine().store.shards.close()
        archive.close()
