"""A real store at 100k and 1M frames, measured end to end (prints figures; not a test).

Per size, a synthetic archive (:mod:`benchmarks.synthetic_archive`: 10k videos, frames shaped
like CLIP embeddings) is written through the store's own write path, ``Store.write_video``:
one transaction per video with its frames, cuts and segments, vectors added to the FAISS index
and saved as indexing saves them; then ``store.optimize()`` as ``reelsearch index`` runs it.
Then, over the files on disk:

* store: commit rate (frames/s, videos/s), optimize, catalog and index sizes, time to open it,
  and the cost of every step that grows with the archive (listing, browse counts, the index
  sample for the cutoff, the video -> frame ids table);
* ``SearchEngine`` (text embedding excluded: the synthetic encoder is a formula): text query
  p50/p99 unrestricted, category-restricted and video-restricted, "more like this", the cold
  first query of a freshly opened store; recall of present concepts and videos returned for
  absent ones (the relevance cutoff);
* ``reelsearch serve`` (waitress subprocess): the same queries over HTTP, the first after start,
  browse and listing pages under 8 concurrent clients, server memory.

    .venv/bin/python benchmarks/bench_scale.py --sizes 100000,1000000 --dir /work/scratch/scale
    .venv/bin/python benchmarks/bench_scale.py --sizes 10000 --cutoff-only   # the cutoff alone

The data dir of each size is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.serve_load import Server, concurrent_load, pct, proc_memory, search_path, timed_loop  # noqa: E402
from benchmarks.synthetic_archive import DIM, SyntheticArchive, SyntheticEncoder  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.labels.taxonomy import load_taxonomy  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

PLUGIN = "benchmarks.synthetic_archive:SyntheticEncoder"


def mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - began


def build(archive: SyntheticArchive, folder: Path) -> None:
    """Write every video through Store.write_video (default flush policy), then optimize."""
    writing = 0.0
    began = time.perf_counter()
    with Store.open(folder) as store:
        store.bind_encoder(SyntheticEncoder.name, DIM, {"kind": "plugin", "plugin": PLUGIN,
                                                        "name": SyntheticEncoder.name, "dim": DIM})
        for i in range(archive.videos):
            args = archive.new_video_args(archive.video(i))
            _, seconds = timed(store.write_video, *args)
            writing += seconds
            if (i + 1) % 2000 == 0:
                print(f"    {i + 1:6d} videos written, {writing:6.1f} s in write_video", flush=True)
        wall = time.perf_counter() - began
        writer_rss = proc_memory(os.getpid())["VmRSS"]
        info, optimize = timed(store.optimize)
    print(f"  commit rate (Store.write_video, one transaction per video, {archive.per_video} frames each): "
          f"{archive.frames / writing:8.0f} frames/s  {archive.videos / writing:6.1f} videos/s "
          f"({writing:.1f} s in write_video, {wall:.1f} s with generating the vectors; writer RSS {writer_rss:.0f} MiB)")
    print(f"  optimize: {optimize:.1f} s -> {info.kind}, {info.vectors} vectors, nlist {info.nlist}, "
          f"nprobe {info.nprobe}, recall@10 {info.recall_at_10}")
    print(f"  on disk: catalog {mib(folder / Store.CATALOG):7.1f} MiB  index {mib(folder / Store.VECTORS):6.1f} MiB")


def retune(folder: Path) -> None:
    """Tune the stored IVF index's nprobe again with the store's tuner (for a store built by an
    earlier run: the build itself is unchanged) and save it."""
    from indexer.store.ivf import RECALL_K, _merge_topk, _tune_queries, tune_nprobe
    from indexer.store.sync import CatalogFrames

    began = time.perf_counter()
    with Store.open(folder) as store:
        index = store._vectors.become_writer(10.0)
        queries = _tune_queries(store.sample_vectors(20_000), np.random.default_rng(0))
        best = (np.full((len(queries), RECALL_K), -np.inf, np.float32), np.full((len(queries), RECALL_K), -1, np.int64))
        with store.catalog.read() as conn:
            for ids, vectors in CatalogFrames(conn, DIM).vectors_after(0):
                best = _merge_topk(best, queries @ vectors.T, ids, RECALL_K)
        nprobe, recall = tune_nprobe(index._base, queries, best[1])
        index._base.nprobe = nprobe
        store._vectors.save()
    print(f"  re-tuned the stored index: nprobe {nprobe}, recall@10 {recall:.3f} ({time.perf_counter() - began:.0f} s)")


def step_costs(store: Store, taxonomy) -> None:
    """Time every read the pages and a first search make that could grow with the archive,
    each on its own (summaries the store maintains; one page of a listing)."""
    from indexer.store.frame_ids import VideoRanges
    from search.filters import restricted_roots

    roots = restricted_roots(taxonomy)
    videos = store.video_count()

    def ranges() -> None:
        with store.catalog.read() as conn:
            VideoRanges().videos_of(conn, np.arange(1, 4097))

    steps = {
        "videos and total duration (counters)": store.overview,
        f"one page of the video list (page {videos // 100 + 1})": lambda: store.video_page(offset=videos // 2, limit=50),
        "browse counts: totals of every label": store.label_totals,
        "restricted videos: union of their coverage": lambda: store.labels_union(roots),
        "category filter: videos showing 'places'": lambda: store.videos_showing(["places"]),
        "category page 1: 50 videos by screen time": lambda: store.label_video_page("places", limit=50),
        "index sample for the cutoff (2048 frames)": lambda: store.sample_vectors(2048),
        "video -> frame ids: range table, 1st lookup": ranges,
    }
    for name, step in steps.items():
        _, seconds = timed(step)
        print(f"    {name:<46} {seconds * 1000:8.1f} ms")


def engine_figures(archive: SyntheticArchive, folder: Path, queries: int, k: int) -> None:
    taxonomy = load_taxonomy()
    rng = np.random.default_rng(1)
    store, opened = timed(Store.open, folder, readonly=True)
    _, ensured = timed(store.vector_count)
    print(f"  open the store: {opened * 1000:.0f} ms + load/reconcile the index {ensured * 1000:.0f} ms "
          f"= {(opened + ensured):.2f} s")
    engine = SearchEngine(store, SyntheticEncoder(), taxonomy)
    topics = [int(t) for t in rng.permutation(np.unique(archive.topic_of))[:queries]]
    _, cold = timed(engine.search, f"topic {topics[0]}", k=k)
    print(f"  cold first query (index sample drawn, background embedded): {cold * 1000:.0f} ms")
    print("  reads that would grow with the archive, now summaries or one page:")
    step_costs(store, taxonomy)
    roots = {t: archive.category_of_topic[t].split("/")[0] for t in topics}
    videos = {t: int(rng.choice(archive.topic_videos(t))) + 1 for t in topics}
    runs = {
        "text, unrestricted": lambda t: engine.search(f"topic {t}", k=k),
        "text, category-restricted": lambda t: engine.search(f"topic {t}", k=k, category=roots[t]),
        "text, video-restricted": lambda t: engine.search(f"topic {t}", k=k, video_id=videos[t]),
        "text, restricted categories excluded": lambda t: engine.search(f"topic {t}", k=k, restricted=False),
        "more like this": lambda t: engine.search_like(videos[t], float(rng.integers(archive.per_video)) * 0.5, k=k),
    }
    for name, run in runs.items():
        seconds, cpu = [], []
        for t in topics:
            began = time.thread_time()
            seconds.append(timed(run, t)[1])
            cpu.append(time.thread_time() - began)
        print(f"  engine {name:<37} wall {pct(seconds)}  CPU p50 {np.median(cpu) * 1000:6.1f} ms "
              f"p99 {np.percentile(cpu, 99) * 1000:6.1f} ms")
    cutoff_figures(archive, engine, topics)
    print(f"  bench process RSS {proc_memory(os.getpid())['VmRSS']:.0f} MiB")
    store.close()


def cutoff_figures(archive: SyntheticArchive, engine: SearchEngine, topics: list[int],
                   text_z: float | None = None) -> None:
    """Recall of present concepts (every video of the topic found?) and videos for absent ones
    (``text_z``: another Z for text queries than search.cutoff.TEXT_Z, to compare)."""
    import search.engine as engine_module
    from search.cutoff import TEXT_Z, text_judge

    z = TEXT_Z if text_z is None else text_z
    engine_module.text_judge = functools.partial(text_judge, z=z)
    recall, floors = [], []
    for t in topics:
        want = set((archive.topic_videos(t) + 1).tolist())
        response = engine.search(f"topic {t}", k=min(1000, max(20, 2 * len(want))))
        found = {r.video.id for r in response.results}
        recall.append(len(found & want) / len(want))
        floors.append(response.cutoff.floor if response.cutoff else float("nan"))
    absent = [len(engine.search(f"absent concept {i}", k=20).results) for i in range(len(topics))]
    engine_module.text_judge = text_judge
    print(f"  cutoff (Z={z:g}): recall of present concepts {np.mean(recall):.3f} (worst {min(recall):.2f}); "
          f"absent concepts return {np.mean(absent):.2f} videos on average (max {max(absent)}); "
          f"mean floor {np.nanmean(floors):.3f}")


def server_figures(archive: SyntheticArchive, folder: Path, queries: int, k: int, clients: int) -> None:
    rng = np.random.default_rng(2)
    topics = [int(t) for t in rng.permutation(np.unique(archive.topic_of))[:queries]]
    server = Server(folder)
    try:
        status, _, first = server.get(search_path(q=f"topic {topics[0]}", k=k))
        print(f"  serve: listening after {server.ready:.2f} s; first search {first * 1000:.0f} ms "
              f"(status {status}); RSS {server.memory()['VmRSS']:.0f} MiB")
        roots = {t: archive.category_of_topic[t].split("/")[0] for t in topics}
        loops = {
            "text, unrestricted": [search_path(q=f"topic {t}", k=k) for t in topics],
            "text, category-restricted": [search_path(q=f"topic {t}", category=roots[t], k=k) for t in topics],
            "more like this": [search_path(like=f"{int(rng.choice(archive.topic_videos(t))) + 1}@1.0", k=k)
                               for t in topics],
        }
        for name, paths in loops.items():
            cpu_before = server.cpu_seconds()
            seconds, _ = timed_loop(server, paths)
            cpu = (server.cpu_seconds() - cpu_before) / len(paths)
            print(f"  serve {name:<29} wall {pct(seconds)}  server CPU {cpu * 1000:6.1f} ms a request")
        middle = max(1, archive.videos // 100)
        pages = [("/browse", "/browse"), ("/api/categories", "/api/categories"),
                 ("/videos (page 1)", "/videos"), (f"/videos?page={middle}", f"/videos?page={middle}"),
                 ("/api/videos (page 1 of 100)", "/api/videos"),
                 ("/browse/category/places", "/browse/category/places"),
                 ("/browse/category/places?page=3", "/browse/category/places?page=3"),
                 ("/api/categories/places/videos", "/api/categories/places/videos")]
        load = concurrent_load(server, pages, clients=clients, rounds=4)
        for name, seconds in load.items():
            print(f"  serve {clients} clients {name:<26} {pct(seconds)}")
        everything = [s for seconds in load.values() for s in seconds]
        print(f"  serve {clients} clients, all pages            {pct(everything)}")
        memory = server.memory()
        print(f"  server memory: VmRSS {memory['VmRSS']:.0f} MiB (anonymous {memory['RssAnon']:.0f}, "
              f"file-backed {memory['RssFile']:.0f}), peak {memory['VmHWM']:.0f} MiB")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="frame counts, comma separated")
    parser.add_argument("--videos", type=int, default=10_000, help="videos (fewer if a size has < 10 per video)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reelsearch-bench-scale"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cutoff-only", action="store_true", help="only the cutoff figures (engine)")
    parser.add_argument("--text-z", default="", help="with --cutoff-only: Z values to compare, e.g. 4,5,6")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    parser.add_argument("--reuse", action="store_true", help="use a data dir kept by an earlier run (implies --keep)")
    parser.add_argument("--retune", action="store_true", help="with --reuse: tune the index's nprobe again")
    args = parser.parse_args()
    categories = list(load_taxonomy().ids)
    print(describe())
    for frames in [int(s) for s in args.sizes.split(",")]:
        videos = min(args.videos, max(1, frames // 10))
        archive = SyntheticArchive(videos, frames // videos, categories)
        folder = args.dir / f"{frames}"
        reuse = args.reuse and (folder / Store.CATALOG).exists()
        if not reuse:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        print(f"\n== {archive.frames:,} frames: {videos:,} videos x {archive.per_video} frames, dim {DIM}")
        try:
            if reuse:
                print(f"  (the store in {folder} from an earlier run)")
                if args.retune:
                    retune(folder)
            else:
                build(archive, folder)
            if args.cutoff_only:
                with Store.open(folder, readonly=True) as store:
                    engine = SearchEngine(store, SyntheticEncoder(), load_taxonomy())
                    topics = [int(t) for t in np.unique(archive.topic_of)[:args.queries]]
                    for z in [float(z) for z in args.text_z.split(",")] if args.text_z else [None]:
                        cutoff_figures(archive, engine, topics, z)
                continue
            engine_figures(archive, folder, args.queries, args.k)
            if not args.no_server:
                server_figures(archive, folder, args.queries, args.k, args.clients)
            print(f"  ({describe()})")
        finally:
            if not (args.keep or args.reuse):
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
