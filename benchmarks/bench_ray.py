"""Benchmark going distributed with Ray (prints figures; not a test).

1. Indexing rate of generated clips (colour encoder by default; ``--encoder`` for another):
   single-process vs Ray with 1 and 2 analysis actors on a local cluster of ``--cpus`` CPUs
   (cluster start-up excluded, printed apart). The overhead of going distributed is
   1 - (Ray, 1 worker) / single-process: both use the same cores.
2. Where to hash: content-hash speed on the driver against the analysis time per file.
3. The single writer's commit rate (videos/s, frames/s): analyses made once, committed into a
   fresh store.
4. Driver memory (RSS) over a ``--files``-file Ray run, sampled every 20 files.
5. Sharded search: ``--vectors`` synthetic frame vectors (benchmarks/bench_search.py's archive)
   in one IVF-SQ8 index vs 4 shard actors; p50/p99 of one text-like query.
6. Index kinds per shard at ``--kind-vectors``: bytes per vector and recall@10 against exact
   for text-like queries (the hard case for PQ), plain and with an exact re-rank of the top 100.

    .venv/bin/python benchmarks/bench_ray.py                       # full size (1M vectors: minutes)
    .venv/bin/python benchmarks/bench_ray.py --vectors 200000      # smaller
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks.bench_search import Archive, pct, rss_mib, unit  # noqa: E402
from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.labels.taxonomy import parse_taxonomy  # noqa: E402
from indexer.models.loading import encoder_spec, load_plugin  # noqa: E402
from indexer.pipeline.analysis import Analyser, IndexOptions, content_hash  # noqa: E402
from indexer.pipeline.cluster import connect  # noqa: E402
from indexer.pipeline.commit import commit  # noqa: E402
from indexer.pipeline.distributed import RayIndexer  # noqa: E402
from indexer.pipeline.orchestrate import Indexer  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.store.shards import KINDS, VectorShard, merge_topk  # noqa: E402
from media import COLOUR_TAXONOMY, Scene, make_video  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "orange"]


def clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> list[Path]:
    """``count`` clips of ``frames`` frames, three colour shots each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        third = frames // 3
        scenes = [Scene(COLOURS[(i + j) % len(COLOURS)], third) for j in range(3)]
        out.append(make_video(folder / f"clip{i:04d}.mp4", scenes, size=size).path)
    return out


def fresh_store(folder: Path, encoder) -> Store:
    store = Store.open(folder)
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    return store


def rate(results, wall: float) -> tuple[float, int]:
    seconds = sum(r.video_seconds for r in results if r.status == "indexed")
    return seconds / wall, sum(r.status == "indexed" for r in results)


def bench_indexing(args, tmp: Path, encoder, labels, ray) -> None:
    files = clips(tmp / "rate", args.rate_files, args.frames, (args.width, args.height))
    options = IndexOptions()
    print(f"\n== indexing {len(files)} clips of {args.frames} frames at {args.width}x{args.height} "
          f"({encoder.name}) ==")
    with fresh_store(tmp / "single", encoder) as store:
        started = time.perf_counter()
        results = list(Indexer(store, encoder, labels, options).index_paths(files))
        single, n = rate(results, time.perf_counter() - started)
    print(f"single-process           {single:7.1f}x realtime ({n} files)")
    for workers in (1, 2):
        with fresh_store(tmp / f"ray{workers}", encoder) as store:
            indexer = RayIndexer(store, encoder, labels, options, workers=workers)
            started = time.perf_counter()
            results = list(indexer.index_paths(files))
            speed, n = rate(results, time.perf_counter() - started)
        per = ", ".join(f"{s.speed:.1f}x" for s in indexer.stats.values())
        print(f"Ray, {workers} worker(s)         {speed:7.1f}x realtime ({n} files; busy per worker: {per}; "
              f"{speed / single:.2f} of single-process)")
    analyser = Analyser(encoder, labels, options)
    started = time.perf_counter()
    analyses = [analyser.analyse(path, content_hash(path)) for path in files]
    analyse_s = (time.perf_counter() - started) / len(files)
    started = time.perf_counter()
    for path in files:
        content_hash(path)
    hash_s = (time.perf_counter() - started) / len(files)
    size = sum(p.stat().st_size for p in files) / len(files)
    print(f"hash on the driver: {hash_s * 1000:.2f} ms per file ({size / hash_s / 1e6:.0f} MB/s), "
          f"analysis {analyse_s * 1000:.1f} ms per file: hashing is {hash_s / analyse_s:.1%} of the work")
    with fresh_store(tmp / "commit", encoder) as store:
        started = time.perf_counter()
        for analysis in analyses:
            commit(store, analysis)
        store.flush()
        wall = time.perf_counter() - started
    frames = sum(len(a.times) for a in analyses)
    print(f"single writer commits {len(analyses) / wall:.1f} videos/s, {frames / wall:.0f} frames/s "
          f"({frames / len(analyses):.1f} frames and thumbnails per video)")


def bench_driver_memory(args, tmp: Path, encoder, labels) -> None:
    files = clips(tmp / "many", args.files, 15, (160, 120))
    print(f"\n== driver memory over {len(files)} files (Ray, 2 workers) ==")
    with fresh_store(tmp / "memory", encoder) as store:
        indexer = RayIndexer(store, encoder, labels, IndexOptions(), workers=2)
        samples = [rss_mib()]
        for i, _result in enumerate(indexer.index_paths(files), 1):
            if i % 20 == 0:
                samples.append(rss_mib())
    print("driver RSS MiB every 20 files: " + " ".join(f"{s:.0f}" for s in samples))


def search_latency(search, queries: np.ndarray) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - started)
    return times


def bench_shards(args, ray, archive: Archive) -> None:
    vectors, ids = archive.vectors, np.arange(1, len(archive.vectors) + 1)
    videos = archive.video_of
    queries = np.stack([archive.text_vector(f"topic {t}") for t in range(args.queries)])
    print(f"\n== sharded search: {len(vectors)} vectors, IVF-SQ8, one text-like query at a time ==")
    one = VectorShard(vectors.shape[1], "ivf-sq8")
    one.add([], [ids], vectors)
    one.build()
    single = search_latency(lambda q: one.search(q, 100), queries)
    print(f"one index (in process)   {pct(single)}")
    actor = ray.remote(num_cpus=0)(VectorShard)
    shards = [actor.remote(vectors.shape[1], "ivf-sq8") for _ in range(4)]
    ray.get([s.add.remote([], [ids[videos % 4 == i]], vectors[videos % 4 == i]) for i, s in enumerate(shards)])
    ray.get([s.build.remote() for s in shards])
    fanned = search_latency(lambda q: merge_topk(ray.get([s.search.remote(q, 100) for s in shards]), 100), queries)
    print(f"4 shard actors (fan-out) {pct(fanned)}")
    for s in shards:
        ray.kill(s)


def bench_kinds(args, archive: Archive) -> None:
    n = min(args.kind_vectors, len(archive.vectors))
    vectors, ids = archive.vectors[:n], np.arange(n)
    queries = np.stack([archive.text_vector(f"topic {archive.topic_of[v]}") for v in range(args.queries)])
    exact = (queries @ vectors.T).argsort(axis=1)[:, ::-1][:, :10]
    print(f"\n== index kind per shard: {n} vectors, recall@10 of text-like queries vs exact ==")
    for kind in KINDS:
        shard = VectorShard(vectors.shape[1], kind, nprobe=16)
        shard.add([], [ids], vectors)
        info = shard.build()
        _s, found = shard.search(queries, 100)
        plain = np.mean([len(set(f[:10]) & set(e)) / 10 for f, e in zip(found, exact)])
        reranked = []
        for q, f, e in zip(queries, found, exact):
            f = f[f >= 0]
            best = f[np.argsort(-(vectors[f] @ q))[:10]]
            reranked.append(len(set(best) & set(e)) / 10)
        print(f"{kind:11s} {info['bytes'] / n:7.1f} B/vector  recall@10 {plain:.3f}  "
              f"with exact re-rank of top 100 {np.mean(reranked):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rate-files", type=int, default=12)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--kind-vectors", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--encoder", default="indexer.models.colour:ColourEncoder")
    parser.add_argument("--skip", nargs="*", default=[], choices=["indexing", "memory", "shards", "kinds"])
    args = parser.parse_args()
    started = time.perf_counter()
    ray = connect("local", num_cpus=args.cpus)
    print(f"local Ray cluster ({args.cpus} CPUs) started in {time.perf_counter() - started:.1f} s")
    encoder = load_plugin(args.encoder)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp / "colours.toml"), encoder)
        if "indexing" not in args.skip:
            bench_indexing(args, tmp, encoder, labels, ray)
        if "memory" not in args.skip:
            bench_driver_memory(args, tmp, encoder, labels)
    if not {"shards", "kinds"} <= set(args.skip):
        archive = Archive(args.vectors, max(1, args.vectors // 100))
        if "shards" not in args.skip:
            bench_shards(args, ray, archive)
        if "kinds" not in args.skip:
            bench_kinds(args, archive)
    ray.shutdown()


if __name__ == "__main__":
    main()
