"""Benchmark the vector index at 100k and 1M frames (prints figures; not a test).

Synthetic 512-d unit vectors shaped like CLIP frame embeddings: every frame shares a common
"image" direction (unrelated frames have cosine ~0.5), each of 10k videos has one of 500 topics
and 2-6 shots, each shot a centre (mean + topic + own direction), and the frames of a shot drift
from it by a small random walk (neighbouring frames ~0.99). Queries: stored frames plus noise and
shot centres plus noise.

Per size: exact ``IndexFlatIP`` (build, bytes, one-query latency) and IVF-SQ8 built by the
store's own builder (:func:`indexer.store.ivf.build_ivf`, same nlist/training/tuned nprobe as
``reelsearch index --optimize``): build time, bytes, process RSS, recall@10 against exact and
an nprobe sweep. Finally the time to embed a new query with the real open_clip ViT-B-32 text
tower (random weights: same speed as trained ones). The whole search path through a real store
and server is ``bench_scale.py``.

    .venv/bin/python benchmarks/bench_search.py            # 100k and 1M (several minutes)
    .venv/bin/python benchmarks/bench_search.py --quick    # 20k frames, for CI smoke
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.store.queries import FrameStats  # noqa: E402
from indexer.store.ivf import build_ivf, recall_at_k  # noqa: E402

DIM, TOPICS, EVERY = 512, 500, 0.5


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"p50 {np.percentile(a, 50):7.2f} ms  p99 {np.percentile(a, 99):7.2f} ms"


class Archive:
    """Synthetic frames of ``videos`` videos in video order; frame id = row + 1."""

    def __init__(self, frames: int, videos: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.image_mean = np.linalg.qr(rng.standard_normal((DIM, 2)))[0].T[0]
        self.topics = unit(rng.standard_normal((TOPICS, DIM)))
        per = frames // videos
        self.offsets = np.arange(videos + 1) * per
        self.topic_of = rng.integers(0, TOPICS, videos)
        self.video_of = np.repeat(np.arange(1, videos + 1), per)
        self.times = np.tile(np.arange(per) * EVERY, videos)
        self.vectors = np.empty((videos * per, DIM), np.float32)
        self.cuts: list[list[float]] = []
        self.centres: list[np.ndarray] = []
        for lo in range(0, videos, 500):
            self._fill(range(lo, min(videos, lo + 500)), per)

    def _fill(self, videos: range, per: int) -> None:
        rng = self.rng
        for v in videos:
            shots = min(per, int(rng.integers(2, 7)))
            starts = np.sort(rng.choice(np.arange(1, per), shots - 1, replace=False)) if per > 1 else []
            bounds = np.concatenate([[0], starts, [per]]).astype(int)
            centres = (0.7 * self.image_mean + 0.5 * self.topics[self.topic_of[v]]
                       + 0.5 * unit(rng.standard_normal((shots, DIM))))
            drift = np.cumsum(0.05 * unit(rng.standard_normal((per, DIM))), axis=0)
            rows = np.repeat(np.arange(shots), np.diff(bounds))
            drift -= np.repeat(drift[bounds[:-1]], np.diff(bounds), axis=0)  # restart at each cut
            self.vectors[self.offsets[v]:self.offsets[v + 1]] = unit(centres[rows] + drift)
            self.cuts.append([float(b * EVERY) for b in bounds[1:-1]])
            self.centres.append(centres)

    def recall_queries(self, n: int) -> np.ndarray:
        near_frames = self.vectors[self.rng.integers(0, len(self.vectors), n // 2)]
        near_centres = np.vstack([c[self.rng.integers(len(c))] for c in
                                  (self.centres[v] for v in self.rng.integers(0, len(self.centres), n - n // 2))])
        noise = 0.3 * unit(self.rng.standard_normal((n, DIM)))
        return unit(np.vstack([near_frames, near_centres]) + noise)


class ArchiveFrames:
    """The archive as a FrameSource for indexer.store.ivf.build_ivf."""

    def __init__(self, archive: Archive) -> None:
        self._vectors = archive.vectors
        self.ids = np.arange(1, len(archive.vectors) + 1, dtype=np.int64)

    def stats(self) -> FrameStats:
        return FrameStats.of(self.ids)

    def all_ids(self) -> np.ndarray:
        return self.ids

    def vectors(self, ids: np.ndarray):
        yield ids, self._vectors[ids - 1]

    def vectors_after(self, after_id: int):
        for lo in range(after_id, len(self.ids), 50_000):
            yield self.ids[lo:lo + 50_000], self._vectors[lo:lo + 50_000]


# ----------------------------------------------------------------------------- measurements


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def latencies(fn, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
    return out


def bench_flat(archive: Archive, queries: np.ndarray, single: int):
    import faiss

    ids = np.arange(1, len(archive.vectors) + 1, dtype=np.int64)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    _, seconds = timed(flat.add_with_ids, archive.vectors, ids)
    print(f"  exact IndexFlatIP: build {seconds:6.2f} s  vectors {archive.vectors.nbytes / 2**20:7.1f} MiB  "
          f"RSS {rss_mib():7.0f} MiB")
    for threads in (1, faiss.omp_get_max_threads()):
        faiss.omp_set_num_threads(threads)
        lat = latencies(lambda q: flat.search(q[None], 10), queries[:single])
        print(f"  exact one query (faiss, {threads} thread{'s' if threads > 1 else ' '}): {pct(lat)}")
    return flat.search(queries, 10)[1]


def bench_ivf(archive: Archive, queries: np.ndarray, exact: np.ndarray, single: int):
    import faiss

    (index, report), seconds = timed(build_ivf, ArchiveFrames(archive), DIM)
    size = faiss.serialize_index(index).nbytes
    recall = recall_at_k(index.search(queries, 10)[1], exact)
    print(f"  IVF-SQ8 (store builder): build {seconds:6.1f} s  nlist {report.nlist}  tuned nprobe "
          f"{report.nprobe}  index {size / 2**20:6.1f} MiB  RSS {rss_mib():7.0f} MiB")
    lat = latencies(lambda q: index.search(q[None], 10), queries[:single])
    print(f"  IVF one query (faiss):              {pct(lat)}  recall@10 {recall:.3f}")
    tuned = index.nprobe
    for nprobe in sorted({1, 4, 8, 16, 32, 64, 128, tuned}):
        if nprobe > report.nlist:
            continue
        index.nprobe = nprobe
        rec = recall_at_k(index.search(queries, 10)[1], exact)
        lat = latencies(lambda q: index.search(q[None], 10), queries[:single])
        print(f"    nprobe {nprobe:4d}{'*' if nprobe == tuned else ' '}  recall@10 {rec:.3f}  {pct(lat)}")
    index.nprobe = tuned
    return index


def bench_text_encoder() -> None:
    try:
        from indexer.models.clip_encoder import OpenClipEncoder
    except ImportError as exc:
        print(f"text encoder: not available ({exc})")
        return
    encoder, seconds = timed(OpenClipEncoder, "ViT-B-32", pretrained=None)
    encoder.encode_texts(["warm up"])
    new = latencies(lambda i: encoder.encode_texts([f"a man fishing from a boat at sunrise {i}"]), range(20))
    cached = latencies(lambda i: encoder.encode_texts(["a man fishing from a boat at sunrise 0"]), range(20))
    print(f"text encoder ViT-B-32 (random weights, load {seconds:.1f} s): new query {pct(new)}; "
          f"cached {pct(cached)}")


def run_size(frames: int, videos: int, args: argparse.Namespace) -> None:
    print(f"\n== {frames:,} frames over {videos:,} videos ({frames // videos} frames each), dim {DIM}")
    archive, seconds = timed(Archive, frames, videos)
    print(f"  synthetic data: {seconds:5.1f} s  RSS {rss_mib():7.0f} MiB")
    queries = archive.recall_queries(args.queries)
    exact = bench_flat(archive, queries, args.single)
    bench_ivf(archive, queries, exact, args.single)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size (20k frames), for CI smoke")
    parser.add_argument("--sizes", default="100000,1000000", help="frame counts, comma separated")
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=400, help="queries for recall@10")
    parser.add_argument("--single", type=int, default=100, help="queries timed one by one")
    parser.add_argument("--no-text-encoder", action="store_true")
    args = parser.parse_args()
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    videos = 2_000 if args.quick else args.videos
    if args.quick:
        args.queries, args.single = 100, 30
    import faiss

    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads; other processes may share the cores")
    for frames in sizes:
        run_size(frames, videos, args)
    if not args.no_text_encoder:
        bench_text_encoder()


if __name__ == "__main__":
    main()
