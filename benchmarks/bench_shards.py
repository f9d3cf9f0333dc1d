"""Sharded search and index kinds per shard (run by benchmarks/bench_ray.py; prints figures).

1. ``--vectors`` synthetic frame vectors (benchmarks/bench_search.py's archive) in one IVF-SQ8
   index against 4 IVF-SQ8 shard actors on a local Ray cluster (split by video, as
   ``serve --shards 4``): build time, memory, and p50/p99 of one text-like query at a time.
2. Index kinds per shard at ``--kind-vectors``: build (training) time, bytes per vector and
   recall@10 against exact search for text-like queries (the hard case for PQ), plain and with
   an exact re-rank of the top 100 (what the engine does from the stored embeddings).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.bench_search import Archive, pct, unit
from benchmarks.synthetic_archive import World
from indexer.pipeline.cluster import connect
from indexer.store.shards import KINDS, VectorShard, merge_topk


def search_latency(search: Any, queries: np.ndarray) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - started)
    return times


def text_queries(archive: Archive, count: int) -> np.ndarray:
    """Text-like queries (benchmarks/synthetic_archive.py's model: a text direction apart from
    the images' plus a topic, cosine ~0.37 to that topic's frames), one per video's topic."""
    text_mean = np.random.default_rng(1).standard_normal(archive.image_mean.shape)
    text_mean -= (text_mean @ archive.image_mean) * archive.image_mean
    world = World(archive.image_mean.astype(np.float32), unit(text_mean), archive.topics)
    return np.stack([world.text_vector(f"topic {archive.topic_of[v % len(archive.topic_of)]}")
                     for v in range(count)])


def bench_shards(args: Any, shards: int = 4) -> None:
    started = time.perf_counter()
    archive = Archive(args.vectors, max(1, args.vectors // 100))
    vectors, ids, videos = archive.vectors, np.arange(1, len(archive.vectors) + 1), archive.video_of
    queries = text_queries(archive, args.queries)
    print(f"\n== sharded search: {len(vectors):,} vectors of {vectors.shape[1]} dims (made in "
          f"{time.perf_counter() - started:.0f} s), IVF-SQ8, one text-like query at a time, k=100 ==")
    started = time.perf_counter()
    one = VectorShard(vectors.shape[1], "ivf-sq8")
    one.add([], [ids], vectors)
    info = one.build()
    print(f"one index (in process): built in {time.perf_counter() - started:.0f} s, {info['bytes'] / 2**20:.0f} MiB")
    single = search_latency(lambda q: one.search(q, 100), queries)
    del one
    ray = connect("local", num_cpus=args.cpus)
    started = time.perf_counter()
    actor = ray.remote(num_cpus=0)(VectorShard)
    actors = [actor.remote(vectors.shape[1], "ivf-sq8") for _ in range(shards)]
    ray.get([a.add.remote([], [ids[videos % shards == i]], vectors[videos % shards == i])
             for i, a in enumerate(actors)])
    infos = ray.get([a.build.remote() for a in actors])
    print(f"{shards} shard actors: built in {time.perf_counter() - started:.0f} s, "
          f"{sum(i['bytes'] for i in infos) / 2**20:.0f} MiB in all")
    fanned = search_latency(lambda q: merge_topk(ray.get([a.search.remote(q, 100) for a in actors]), 100), queries)
    print(f"one index (in process)    {pct(single)}")
    print(f"{shards} shard actors (fan-out) {pct(fanned)}")
    for a in actors:
        ray.kill(a)
    ray.shutdown()


def bench_kinds(args: Any) -> None:
    archive = Archive(args.kind_vectors, max(1, args.kind_vectors // 100))
    vectors, ids = archive.vectors, np.arange(len(archive.vectors))
    queries = text_queries(archive, args.queries)
    exact = (queries @ vectors.T).argsort(axis=1)[:, ::-1][:, :10]
    print(f"\n== index kind per shard: {len(vectors):,} vectors, recall@10 of text-like queries vs exact, "
          f"nprobe 16 ==")
    for kind in KINDS:
        started = time.perf_counter()
        shard = VectorShard(vectors.shape[1], kind, nprobe=16)
        shard.add([], [ids], vectors)
        info = shard.build()
        built = time.perf_counter() - started
        _s, found = shard.search(queries, 100)
        plain = np.mean([len(set(f[:10]) & set(e)) / 10 for f, e in zip(found, exact)])
        reranked = []
        for q, f, e in zip(queries, found, exact):
            f = f[f >= 0]
            best = f[np.argsort(-(vectors[f] @ q))[:10]]
            reranked.append(len(set(best) & set(e)) / 10)
        print(f"{kind:11s} built in {built:5.0f} s  {info['bytes'] / len(vectors):7.1f} B/vector  "
              f"recall@10 {plain:.3f}  with exact re-rank of top 100 {np.mean(reranked):.3f}", flush=True)
