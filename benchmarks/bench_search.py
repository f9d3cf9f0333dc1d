"""Benchmark scene search at 100k and 1M frames (prints figures; not a test).

Synthetic 512-d unit vectors shaped like CLIP frame embeddings: every frame shares a common
"image" direction (unrelated frames have cosine ~0.5), each of 10k videos has one of 500 topics
and 2-6 shots, each shot a centre (mean + topic + own direction), and the frames of a shot drift
from it by a small random walk (neighbouring frames ~0.99). Queries: stored frames plus noise and
shot centres plus noise (for recall), and "text" queries (a separate text direction + a topic: ~0.37
with frames of the topic, ~0.18 with others, background prompts ~0.19 with every frame).

Per size: exact ``IndexFlatIP`` (build, bytes, one-query latency) and IVF-SQ8 built by the
store's own builder (:func:`indexer.store.ivf.build_ivf`, same nlist/training/tuned nprobe as
``reelsearch index --optimize``): build time, bytes, process RSS, recall@10 against exact,
nprobe sweep, and the full engine path (``SearchEngine.search`` on a text query; embedding
excluded by a table-lookup encoder; filters, re-scoring, scene grouping and labels included):
on a real Store (SQLite + FAISS in a temp dir) up to ``--store-max`` frames, and on an
in-memory frame table beside the same FAISS index above that. Finally the time to embed a new
query with the real open_clip ViT-B-32 text tower (random weights: same speed as trained ones).

    .venv/bin/python benchmarks/bench_search.py            # 100k and 1M (several minutes)
    .venv/bin/python benchmarks/bench_search.py --quick    # 20k frames, for CI smoke
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.store.catalog import NewVideo, VideoRecord  # noqa: E402
from indexer.store.queries import FrameStats  # noqa: E402
from indexer.labels.taxonomy import load_taxonomy  # noqa: E402
from indexer.types import Segment, ShotCut, VideoInfo  # noqa: E402
from indexer.store.vectors import VectorIndex  # noqa: E402
from indexer.store.ivf import build_ivf, recall_at_k  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

DIM, TOPICS, EVERY = 512, 500, 0.5
LABEL = "alcohol/beer"  # a restricted category of the default taxonomy


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
        self.image_mean, self.text_mean, *_ = np.linalg.qr(rng.standard_normal((DIM, 2)))[0].T
        self.topics = unit(rng.standard_normal((TOPICS, DIM)))
        per = frames // videos
        self.offsets = np.arange(videos + 1) * per
        self.topic_of = rng.integers(0, TOPICS, videos)
        self.restricted = self.topic_of < TOPICS // 20  # ~5% of videos carry an "alcohol/beer" segment
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

    def text_vector(self, text: str) -> np.ndarray:
        """"topic N" -> a query of topic N; "absent ..." -> a concept no video shows; anything
        else -> a generic caption (the taxonomy's background prompts)."""
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        noise, concept = unit(np.random.default_rng(seed).standard_normal((2, DIM)))
        base = 0.9 * self.text_mean + 0.3 * self.image_mean
        if text.startswith("topic "):
            return unit(base + 0.45 * self.topics[int(text.split()[1])] + 0.3 * noise)
        if text.startswith("absent "):
            return unit(base + 0.45 * concept + 0.3 * noise)
        return unit(base + 0.35 * noise)


class TableEncoder:
    """Text "embedding" by table lookup (so the engine path excludes embedding time)."""

    name, dim, image_size = "bench:synthetic", DIM, 224

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.archive.text_vector(t) for t in texts])

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


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


class MemoryStore:
    """The read methods the engine uses, over in-memory arrays and a VectorIndex (for sizes where
    writing a real Store would take too long; the SQLite reads it replaces are measured at 100k)."""

    def __init__(self, archive: Archive, index: VectorIndex) -> None:
        self.a, self.index, self.dim = archive, index, DIM
        duration = float(archive.offsets[1] * EVERY)
        self.videos = [VideoRecord(v, Path(f"/archive/{v:05d}.mp4"), "h", 1, 0.0, duration, Fraction(25), 1280,
                                   720, 0, 0.0, "h264", EVERY, "ok", "", 0.0) for v in range(1, len(archive.cuts) + 1)]

    def vector_count(self) -> int:
        return len(self.index)

    def search_vectors(self, queries, k, *, video_ids=None):
        subset = None
        if video_ids is not None:
            subset = np.concatenate([np.arange(self.a.offsets[v - 1], self.a.offsets[v]) + 1 for v in video_ids])
        return self.index.search(queries, k, subset=subset)

    def frame_locations(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        return dict(zip(ids.tolist(), zip(self.a.video_of[ids - 1].tolist(), self.a.times[ids - 1].tolist())))

    def frames(self, video_id):
        lo, hi = self.a.offsets[video_id - 1], self.a.offsets[video_id]
        return np.arange(lo + 1, hi + 1), self.a.times[lo:hi], self.a.vectors[lo:hi]

    def cuts(self, video_id):
        return self.a.cuts[video_id - 1]

    def segments(self, video_id, include_rejected=False):
        if not self.a.restricted[video_id - 1]:
            return []
        return [SimpleNamespace(label=LABEL, start=0.0, end=self.videos[video_id - 1].duration)]

    def get_video(self, video_id):
        return self.videos[video_id - 1]

    def list_videos(self, *, ids=None, min_duration=None, max_duration=None):
        lo, hi = min_duration or 0.0, math.inf if max_duration is None else max_duration
        return [v for v in self.videos if lo <= v.duration <= hi]

    def videos_with_labels(self, labels):
        if LABEL not in labels:
            return {}
        return {int(v) + 1: self.segments(int(v) + 1) for v in np.flatnonzero(self.a.restricted)}

    def video_count(self) -> int:
        return len(self.videos)


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


def bench_engine(title: str, store, archive: Archive, n_queries: int, k: int = 20) -> None:
    engine = SearchEngine(store, TableEncoder(archive), load_taxonomy())
    topics = [int(t) for t in np.unique(archive.topic_of)]
    engine.search(f"topic {topics[-1]}", k=k)  # warm: index sample, background prompts
    for name, filters, chosen in (("", {}, topics[:n_queries]),
                                  ("restricted only", {"restricted": True}, topics[:TOPICS // 20][:n_queries]),
                                  ("no restricted", {"restricted": False}, topics[TOPICS // 20:][:n_queries])):
        responses: list = []

        def run(topic: int, out: list = responses, kw: dict = filters) -> None:
            out.append(engine.search(f"topic {topic}", k=k, **kw))

        lat = latencies(run, chosen)
        on_topic = np.mean([np.mean([archive.topic_of[r.video.id - 1] == t for r in resp.results] or [0])
                            for t, resp in zip(chosen, responses)])
        found = np.mean([len(r.results) for r in responses])
        expected = np.mean([min(k, int((archive.topic_of == t).sum())) for t in chosen])
        print(f"  engine {title + (', ' + name if name else ''):<40} {pct(lat)}  videos {found:4.1f}/{expected:4.1f}"
              f"  on-topic {on_topic:.2f}")
    empty = [engine.search(f"absent concept {i}", k=k) for i in range(20)]
    print(f"    queries for a concept no video shows: {np.mean([len(r.results) for r in empty]):.2f} "
          f"videos on average (should be 0)")


def build_real_store(archive: Archive, folder: Path):
    from indexer.store import Store

    store = Store.open(folder, flush_every_videos=10**9, flush_every_seconds=1e12)
    store.bind_encoder(TableEncoder.name, DIM, {"kind": "plugin", "plugin": "bench:none",
                                                "name": TableEncoder.name, "dim": DIM})
    start = time.perf_counter()
    for v in range(len(archive.cuts)):
        lo, hi = archive.offsets[v], archive.offsets[v + 1]
        times = archive.times[lo:hi]
        info = VideoInfo(Path(f"/archive/{v + 1:05d}.mp4"), float(hi - lo) * EVERY, Fraction(25), 1280, 720, 0,
                         0.0, "h264")
        cuts = [ShotCut(t, int(t * 90000), 1.0) for t in archive.cuts[v]]
        segments = [Segment(LABEL, 0.0, info.duration, 0.9)] if archive.restricted[v] else []
        store.write_video(NewVideo(info.path, f"h{v}", 1, 0.0, info, EVERY), times, (times * 90000).astype(int),
                          archive.vectors[lo:hi], cuts, segments)
    store.flush()
    print(f"  real Store: wrote {len(archive.cuts)} videos / {len(archive.vectors)} frames in "
          f"{time.perf_counter() - start:5.1f} s  RSS {rss_mib():7.0f} MiB")
    return store


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
    index = bench_ivf(archive, queries, exact, args.single)
    bench_engine("(IVF, in-memory frames)", MemoryStore(archive, VectorIndex(DIM, index)), archive, args.single)
    if frames <= args.store_max:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            with build_real_store(archive, Path(tmp)) as store:
                bench_engine("(flat, real Store)", store, archive, args.single)
                info, seconds = timed(store.optimize, force=True)
                print(f"  store.optimize(): {seconds:5.1f} s -> {info}")
                bench_engine("(IVF, real Store)", store, archive, args.single)
    else:
        print(f"  (real Store skipped above {args.store_max:,} frames: the engine ran on in-memory frame "
              f"arrays beside the same FAISS index)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size (20k frames), for CI smoke")
    parser.add_argument("--sizes", default="100000,1000000", help="frame counts, comma separated")
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=400, help="queries for recall@10")
    parser.add_argument("--single", type=int, default=100, help="queries timed one by one")
    parser.add_argument("--store-max", type=int, default=100_000, help="largest size written to a real Store")
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
