"""Benchmark going distributed with Ray (prints figures; not a test).

1. Distribution overhead at equal cores: single-process indexing on ``--cpus`` cores against Ray
   with 1 worker of ``--cpus`` CPUs and with ``--cpus`` workers of 1 CPU, the configurations
   interleaved over ``--rounds`` rounds, on ``--rate-files`` copies of ``--distinct`` textured
   720p ad clips (benchmarks/synthetic_video.py) with CLIP ViT-B-32 (random weights: the real
   model's compute, nothing downloaded; ``--encoder`` for another). For each: the whole-run rate
   (Ray: local cluster start, actor start-up and the last file's drain included) and the
   steady-state rate (between the moment every worker is busy and the start of the drain), and
   their ratio to single-process; then the fixed start-up cost and the archive size from which
   the whole-run overhead is under 10 %.
2. Where to hash: content-hash speed on the driver against the analysis time per file.
3. The single writer's commit rate (videos/s, frames/s): analyses made once, committed into a
   fresh store.
4. Driver memory (RSS) over a ``--files``-file Ray run, sampled every 20 files.
5. Sharded search and index kinds per shard (benchmarks/bench_shards.py): ``--vectors`` in one
   index vs 4 shard actors, p50/p99; bytes/vector and recall@10 of text-like queries per kind.

    .venv/bin/python benchmarks/bench_ray.py                       # everything (~8 min, quiet 2-core box)
    .venv/bin/python benchmarks/bench_ray.py --skip shards kinds   # indexing only
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks.bench_search import rss_mib  # noqa: E402
from benchmarks.bench_shards import bench_kinds, bench_shards  # noqa: E402
from benchmarks.synthetic_video import make_ad_clip  # noqa: E402
from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.labels.taxonomy import parse_taxonomy  # noqa: E402
from indexer.models.colour import ColourEncoder  # noqa: E402
from indexer.models.loading import encoder_spec, load_plugin  # noqa: E402
from indexer.pipeline.analysis import Analyser, IndexOptions, content_hash  # noqa: E402
from indexer.pipeline.cluster import connect  # noqa: E402
from indexer.pipeline.commit import commit  # noqa: E402
from indexer.pipeline.distributed import RayIndexer  # noqa: E402
from indexer.pipeline.orchestrate import Indexer  # noqa: E402
from indexer.store import Store  # noqa: E402
from media import COLOUR_TAXONOMY, Scene, make_video  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "orange"]
RANDOM_CLIP = "ViT-B-32-random"


def clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> list[Path]:
    """``count`` clips of ``frames`` frames, three colour shots each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        third = frames // 3
        scenes = [Scene(COLOURS[(i + j) % len(COLOURS)], third) for j in range(3)]
        out.append(make_video(folder / f"clip{i:04d}.mp4", scenes, size=size).path)
    return out


def archive_files(folder: Path, distinct: int, copies: int, seconds: float) -> list[Path]:
    """``copies`` files cycling over ``distinct`` textured 720p ad clips of ``seconds`` each."""
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for i in range(distinct):
        originals.append(folder / f"ad{i:03d}.mp4")
        make_ad_clip(originals[-1], seconds=seconds, size=(1280, 720), seed=100 + i)
    out = list(originals)
    for i in range(distinct, copies):
        out.append(folder / f"ad{i:03d}.mp4")
        shutil.copyfile(originals[i % distinct], out[-1])
    return out[:copies]


def fresh_store(folder: Path, encoder) -> Store:
    store = Store.open(folder)
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    return store


def make_encoder(name: str):
    if name == RANDOM_CLIP:
        from indexer.models.clip_encoder import OpenClipEncoder

        return OpenClipEncoder("ViT-B-32", pretrained=None)
    return load_plugin(name)


@dataclass
class Run:
    """One indexing run: when each result came (seconds from the start) and its video-seconds."""

    config: str
    stamps: list[float]
    seconds: list[float]
    in_flight: int  # files in flight at once: results before this many are the ramp-up
    extra: str = ""

    @property
    def whole(self) -> float:
        return sum(self.seconds) / self.stamps[-1]

    @property
    def steady(self) -> float:
        """Rate between the ``in_flight``-th result and the ``in_flight``-th from the end (at most
        the first and last quarter of the run left out)."""
        n = len(self.stamps)
        i = min(self.in_flight - 1, (n - 1) // 4)
        j = min(n - 1, max(n - self.in_flight, (3 * n) // 4, i + 1))
        return sum(self.seconds[i + 1:j + 1]) / (self.stamps[j] - self.stamps[i])


def index_once(config: str, files: list[Path], store: Store, encoder, labels, cpus: int) -> Run:
    """Index ``files`` into ``store`` one way; a Ray run connects (starts a local cluster) first."""
    started = time.perf_counter()
    ray = None
    if config == "single":
        indexer: Indexer | RayIndexer = Indexer(store, encoder, labels)
        in_flight = 1
    else:
        workers = 1 if config == "ray-1" else cpus
        ray = connect("local", num_cpus=cpus)
        connected = time.perf_counter() - started
        indexer = RayIndexer(store, encoder, labels, workers=workers)
        in_flight = workers * indexer.per_worker
    stamps, seconds = [], []
    for result in indexer.index_paths(files):
        assert result.status == "indexed", result
        stamps.append(time.perf_counter() - started)
        seconds.append(result.video_seconds)
    store.flush()
    extra = ""
    if ray is not None:
        extra = f"cluster start {connected:.1f} s; busy per worker " + ", ".join(f"{s.speed:.1f}x ({s.threads} threads)" for s in indexer.stats.values())
        ray.shutdown()
    return Run(config, stamps, seconds, in_flight, extra)


NAMES = {"single": "single-process ({cpus} cores)", "ray-1": "Ray, 1 worker of {cpus} CPUs",
         "ray-n": "Ray, {cpus} workers of 1 CPU"}


def bench_overhead(args, tmp: Path) -> None:
    encoder = make_encoder(args.encoder)
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp / "colours.toml"), encoder)
    files = archive_files(tmp / "archive", args.distinct, args.rate_files, args.seconds)
    minutes = len(files) * args.seconds / 60
    print(f"\n== distribution overhead: {len(files)} files, {minutes:.0f} video-minutes of 720p "
          f"({args.distinct} distinct textured ad clips of {args.seconds:.0f} s), {encoder.name} ==")
    runs: dict[str, list[Run]] = {c: [] for c in NAMES}
    for rnd in range(args.rounds):
        order = list(NAMES) if rnd % 2 == 0 else list(NAMES)[::-1]
        for config in order:
            with fresh_store(tmp / f"{config}-{rnd}", encoder) as store:
                run = index_once(config, files, store, encoder, labels, args.cpus)
            runs[config].append(run)
            print(f"round {rnd + 1} {NAMES[config].format(cpus=args.cpus):28s} whole {run.whole:5.1f}x  "
                  f"steady {run.steady:5.1f}x  first file after {run.stamps[0]:4.1f} s  {run.extra}", flush=True)
    report_overhead(runs, args.cpus)


def report_overhead(runs: dict[str, list[Run]], cpus: int) -> None:
    mean = {c: (np.mean([r.whole for r in rs]), np.mean([r.steady for r in rs])) for c, rs in runs.items()}
    first = {c: np.mean([r.stamps[0] for r in rs]) for c, rs in runs.items()}
    print("mean over rounds (x realtime)        whole  steady   whole/single steady/single")
    for config, (whole, steady) in mean.items():
        print(f"  {NAMES[config].format(cpus=cpus):34s} {whole:6.1f} {steady:7.1f} {whole / mean['single'][0]:10.2f} "
              f"{steady / mean['single'][1]:13.2f}")
    for config in ("ray-1", "ray-n"):
        startup = first[config] - first["single"]
        rate = mean[config][1]
        # whole-run overhead S / (S + V / r) <= 10 % once V >= 9 * S * r video-seconds
        print(f"  {NAMES[config].format(cpus=cpus)}: start-up (cluster + actors) costs {startup:.1f} s more than "
              f"single-process; whole-run overhead < 10 % from {9 * startup * rate / 60:.0f} video-minutes on")


def bench_hash_and_commit(args, tmp: Path) -> None:
    encoder = ColourEncoder()
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp / "colours.toml"), encoder)
    files = clips(tmp / "rate", 12, 300, (640, 360))
    print(f"\n== driver-side work: hashing and the single writer's commits ({len(files)} colour clips of "
          f"300 frames at 640x360, colour encoder) ==")
    analyser = Analyser(encoder, labels, IndexOptions())
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
    started = time.perf_counter()
    sizes = [len(pickle.dumps(pickle.loads(pickle.dumps(a)))) for a in analyses]  # what crosses to the driver
    pickled_s = (time.perf_counter() - started) / len(analyses)
    print(f"an analysis crosses to the driver as {np.mean(sizes) / 1024:.0f} KiB, pickled and unpickled in "
          f"{pickled_s * 1000:.2f} ms ({pickled_s / analyse_s:.1%} of the analysis)")
    with fresh_store(tmp / "commit", encoder) as store:
        started = time.perf_counter()
        for analysis in analyses:
            commit(store, analysis)
        store.flush()
        wall = time.perf_counter() - started
    frames = sum(len(a.times) for a in analyses)
    print(f"single writer commits {len(analyses) / wall:.1f} videos/s, {frames / wall:.0f} frames/s "
          f"({frames / len(analyses):.1f} frames and thumbnails per video)")


def bench_driver_memory(args, tmp: Path) -> None:
    encoder = ColourEncoder()
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp / "colours.toml"), encoder)
    files = clips(tmp / "many", args.files, 15, (160, 120))
    ray = connect("local", num_cpus=args.cpus)
    print(f"\n== driver memory over {len(files)} files (Ray, 2 workers) ==")
    with fresh_store(tmp / "memory", encoder) as store:
        indexer = RayIndexer(store, encoder, labels, IndexOptions(), workers=2)
        samples = [rss_mib()]
        for i, _result in enumerate(indexer.index_paths(files), 1):
            if i % 20 == 0:
                samples.append(rss_mib())
    ray.shutdown()
    print("driver RSS MiB every 20 files: " + " ".join(f"{s:.0f}" for s in samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=4)
    parser.add_argument("--rate-files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--encoder", default=RANDOM_CLIP, help=f"{RANDOM_CLIP} or a plugin MODULE:FACTORY")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--kind-vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "driver", "memory", "shards", "kinds"])
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "overhead" not in args.skip:
            bench_overhead(args, tmp)
        if "driver" not in args.skip:
            bench_hash_and_commit(args, tmp)
        if "memory" not in args.skip:
            bench_driver_memory(args, tmp)
    if "shards" not in args.skip:
        bench_shards(args)
    if "kinds" not in args.skip:
        bench_kinds(args)
    print(f"\n(all sections: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
