"""Indexing throughput benchmark: video-seconds indexed per wall-second, all figures in one run.

(a) decoder limit: every frame decoded with PyAV frame threading, nothing converted, with the
    scanner's analysis-grade options (a0: bit-exact, FFmpeg's defaults; a2: two frame threads
    instead of FFmpeg's count, which decodes faster when nothing else runs, though not in the
    pipeline, where the scanner needs a share of the cores: L2 is the limit with it);
(b) encoder only: the images the pipeline actually encodes for this clip, batched, default precision;
(s) the same pipeline with the encoder replaced by one that does no work: what everything but
    the encoding costs. The pipeline encodes after the scan (a file's images make one batch or a
    few), so c takes about s's time plus b's, and c / L about (1/a + 1/b) / (1/s + 1/b);
(c) the full pipeline (decode + cuts + sampling + change gate + encode + labels + store) at the
    default precision (auto: bf16 where the CPU has it natively, else int8 where torch can
    quantize, else fp32), then fp32 and int8, and c0 with the change gate off (every sampled
    frame encoded). ``REELSEARCH_NATIVE_BF16=0`` measures a CPU without native bf16;
(d) the well-known recipe: every 10th frame, JPEG round trip, open_clip preprocess, batch-1 CLIP.
Both stages share the same cores, so the best possible is L = 1 / (1/a + 1/b); targets are
c >= 0.9 L and c >= 5 d. ViT-B-32 with random weights runs at the speed of real ones.

Each figure is the best of ``--repeat`` runs (default 3), so a stage disturbed by other work on
the machine does not skew a ratio.

    python benchmarks/bench_index.py [--seconds 60] [--sizes 1280x720,1920x1080] [--repeat 3] [VIDEO ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, NamedTuple

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.recipe import recipe_parts, recipe_seconds  # noqa: E402
from benchmarks.machine import describe, rotated  # noqa: E402
from benchmarks.synthetic_video import make_ad_clip  # noqa: E402
from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.media.frames import ANALYSIS_DECODING  # noqa: E402
from indexer.models.clip_encoder import OpenClipEncoder  # noqa: E402
from indexer.pipeline.analysis import Analyser  # noqa: E402
from indexer.pipeline.orchestrate import FILES_IN_FLIGHT, IndexOptions, Indexer  # noqa: E402
from indexer.media.probe import probe  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.labels.taxonomy import load_taxonomy  # noqa: E402


class Counting:
    """Wraps an encoder and keeps the images it was asked to encode (for stage b)."""

    def __init__(self, inner) -> None:
        self.inner, self.images = inner, []
        self.name, self.dim, self.image_size = inner.name, inner.dim, inner.image_size

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        self.images.append(images.copy())
        return self.inner.encode_images(images)

    def encode_texts(self, texts):
        return self.inner.encode_texts(texts)


class NoEncoder:
    """Stands in for the encoder in stage s: the same name, size and image size, and every image
    gets the same unit vector without any work (texts go to the real encoder, for the labels)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.image_size = inner, inner.name, inner.dim, inner.image_size
        self._vector = np.zeros(inner.dim, dtype=np.float32)
        self._vector[0] = 1.0

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return np.tile(self._vector, (len(images), 1))

    def encode_texts(self, texts):
        return self.inner.encode_texts(texts)


def decode_only(path: Path, options: dict[str, str] | None = None, threads: tuple[str, int] = ("AUTO", 0)) -> float:
    """Wall seconds of decoding every frame of ``path``; ``threads``: (thread type, count), as
    the scanner decodes by default (frame and slice threads, FFmpeg's count)."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = threads
        if options:
            stream.codec_context.options = dict(options)
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def encode_only(encoder, images: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for batch in images:
        encoder.encode_images(batch)
    return time.perf_counter() - start


def pipeline(path: Path, encoder, options: IndexOptions) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Index ``path`` into a fresh store; return wall time, sample times, vectors, frames encoded."""
    counting = Counting(encoder)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        store.bind_encoder(encoder.name, encoder.dim, {"bench": True})
        labels = LabelModel.build(load_taxonomy(), encoder)
        start = time.perf_counter()
        result = Indexer(store, counting, labels, options).index_file(path)
        store.flush()
        wall = time.perf_counter() - start
        assert result.status == "indexed", result.reason
        _ids, times, vectors = store.frames(result.video_id)
    counting.encoded = sum(len(b) for b in counting.images)
    return wall, times, vectors, counting


def best(repeat: int, run: Callable[[], float]) -> float:
    """The shortest of ``repeat`` wall times of ``run`` (the least disturbed by other work)."""
    return min(run() for _ in range(repeat))


class Rates(NamedTuple):
    """x-realtime rates of one clip (see :func:`rates`) and the data of one pipeline run."""

    a: float
    a2: float
    b: float
    c: float
    d: float
    s: float
    times: np.ndarray
    vectors: np.ndarray
    counting: Counting

    @property
    def limit(self) -> float:
        """L = 1 / (1/a + 1/b): decode and encode one after the other on the same cores."""
        return 1 / (1 / self.a + 1 / self.b)

    @property
    def limit2(self) -> float:
        """L2, the same with the two-frame-thread decode (a2)."""
        return 1 / (1 / self.a2 + 1 / self.b)

    @property
    def expected(self) -> float:
        """c / L when the encoding does not overlap the rest: c then takes the time of s (all but
        the encoding) plus that of b, so c / L = (1/a + 1/b) / (1/s + 1/b)."""
        return (1 / self.a + 1 / self.b) / (1 / self.s + 1 / self.b)

    def ratios(self) -> str:
        """The targets' ratios, and what c / L would be from s and b alone."""
        return (f"c / L = {self.c / self.limit:.2f} (target >= 0.9)   c / L2 = {self.c / self.limit2:.2f}   "
                f"c / d = {self.c / self.d:.1f} (target >= 5)\n  the pipeline without its encoding (s) takes "
                f"{self.a / self.s:.2f}x the decode's time: c / L {self.expected:.2f} if the encoding "
                f"overlaps none of it")


def rates(path: Path, encoder, parts, repeat: int) -> Rates:
    """x-realtime rates of ``path``, each the best of ``repeat`` runs: a (analysis-grade decode
    only, threaded as the scanner decodes), a2 (the same with two frame threads, the faster
    decode when nothing else runs), b (encoding only the images the pipeline encodes), c (the
    whole pipeline into a fresh store), s (the same with :class:`NoEncoder`) and d (the recipe,
    with loaded ``parts``); then (times, vectors, Counting) of a c run. a, a2, b, c and s run in
    rounds, so that a burst of other work on the machine, or a slower spell of it, hits them
    alike and c / L compares like with like; the order within a round rotates (a c b, c b a,
    b a c, ...), as a run's place in a round can move it by 10 %."""
    seconds = probe(path).duration
    c_wall, times, vectors, counting = pipeline(path, encoder, IndexOptions())  # an untimed run gives the data
    stages: dict[str, Callable[[], float]] = {
        "a": lambda: decode_only(path, ANALYSIS_DECODING),  # as the scanner decodes
        "c": lambda: pipeline(path, encoder, IndexOptions())[0],
        "b": lambda: encode_only(encoder, counting.images),
        "a2": lambda: decode_only(path, ANALYSIS_DECODING, ("FRAME", 2)),
        "s": lambda: pipeline(path, NoEncoder(encoder), IndexOptions())[0]}
    walls: dict[str, list[float]] = {stage: [] for stage in stages}
    for round_no in range(repeat):
        for stage in rotated(list(stages), round_no):
            walls[stage].append(stages[stage]())
    d = seconds / best(repeat, lambda: recipe_seconds([path], *parts))
    a, a2, b, c, s = (seconds / min(walls[k]) for k in ("a", "a2", "b", "c", "s"))
    return Rates(a, a2, b, c, d, s, times, vectors, counting)


#: The ways to index a folder, as (files in flight, whether encoder runs take turns, whether the
#: indexing loop runs off the main thread). torch's OpenMP team of the main thread busy-waits
#: longer than the teams of other threads, so "file after file" is measured in both places.
OVERLAP_MODES = {"file after file": (1, True, False), "file after file, worker thread": (1, True, True),
                 "two in flight": (FILES_IN_FLIGHT, True, False),
                 "two in flight, encoders at once": (FILES_IN_FLIGHT, False, False)}


def overlap_walls(folder: Path, encoder, rounds: int) -> dict[str, list[float]]:
    """Wall seconds of indexing every clip of ``folder`` into a fresh store in each of
    :data:`OVERLAP_MODES`, the modes alternating, ``rounds`` times, after one untimed run (the
    encoder meets every batch shape once: oneDNN builds its kernels per shape)."""
    labels = LabelModel.build(load_taxonomy(), encoder)
    walls: dict[str, list[float]] = {mode: [] for mode in OVERLAP_MODES}
    for round_no in range(rounds + 1):
        for mode, (in_flight, exclusive, off_main) in list(OVERLAP_MODES.items())[: 1 if round_no == 0 else None]:
            def run() -> None:
                wall = index_folder(folder, encoder, labels, in_flight, exclusive)
                if round_no:
                    walls[mode].append(wall)
            if off_main:
                thread = threading.Thread(target=run)
                thread.start()
                thread.join()
            else:
                run()
    return walls


def index_folder(folder: Path, encoder, labels, in_flight: int, exclusive: bool) -> float:
    """Wall seconds of indexing ``folder`` into a fresh store (in this thread)."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        store.bind_encoder(encoder.name, encoder.dim, {"bench": True})
        indexer = Indexer(store, encoder, labels, IndexOptions(), files_in_flight=in_flight)
        indexer.analyser = Analyser(encoder, labels, IndexOptions(), exclusive_encoder=exclusive)
        start = time.perf_counter()
        results = list(indexer.index_paths([folder]))
        store.flush()
        wall = time.perf_counter() - start
    assert all(r.status == "indexed" for r in results), [r.reason for r in results if r.failed]
    return wall


def bench_video(path: Path, encoders: dict, parts, repeat: int, ratios_only: bool = False) -> None:
    """All figures for one clip, each the best of ``repeat`` runs; ``encoders`` maps auto (the
    default), fp32 and int8 to encoders. ``ratios_only``: just a, a2, b, L, L2, s, c, d and the ratios."""
    info = probe(path)
    seconds = info.duration
    print(f"\n== {path.name}: {info.width}x{info.height} @ {float(info.fps or 0):.3f} fps, "
          f"{seconds:.1f} s, codec {info.codec}")
    default, fp32 = encoders["auto"], encoders["fp32"]
    if ratios_only:
        m = rates(path, default, parts, repeat)
        print(f"  encoded {m.counting.encoded} ({m.counting.encoded / seconds:.2f}/video-s); a {m.a:.2f}x, "
              f"a2 {m.a2:.2f}x, b {m.b:.2f}x, L {m.limit:.2f}x, L2 {m.limit2:.2f}x, s {m.s:.2f}x, c {m.c:.2f}x, "
              f"d {m.d:.2f}x realtime\n  {m.ratios()}")
        return
    a_exact = seconds / best(repeat, lambda: decode_only(path))
    options = IndexOptions()
    measured = rates(path, default, parts, repeat)
    a, a2, b, c, d, s, times, vectors, counting = measured
    c32 = seconds / best(repeat, lambda: pipeline(path, fp32, options)[0])
    c8 = seconds / best(repeat, lambda: pipeline(path, encoders["int8"], options)[0])
    images = np.concatenate(counting.images)
    reference = fp32.encode_images(images)
    full_wall, full_times, full_vectors, full_count = pipeline(path, default, replace(options, reencode_window=0))
    limit, limit2 = measured.limit, measured.limit2
    # each sampled frame the gate skipped is represented by the last encoded frame of its shot
    latest = np.searchsorted(times, full_times + 1e-6, side="right") - 1
    agree = (vectors[latest] * full_vectors).sum(axis=1)
    print(f"sampled frames {len(full_times)} (every {options.every} s + first frame of each shot), "
          f"encoded {counting.encoded} ({counting.encoded / seconds:.2f}/video-s); each sampled frame vs "
          f"the encoded frame standing for it: cosine mean {agree.mean():.4f}, 5th percentile "
          f"{np.percentile(agree, 5):.4f}, min {agree.min():.4f}")
    for label in ("auto", "int8"):
        cosines = (reference * encoders[label].encode_images(images)).sum(axis=1)
        print(f"{encoders[label].image_precision} ({label}) vs fp32 image vectors on these frames: "
              f"cosine mean {cosines.mean():.5f}, min {cosines.min():.5f}")
    auto = default.image_precision
    rows = [("a0 decode only, bit-exact (PyAV, frame threads)", a_exact),
            ("a  decode only, analysis-grade (no deblocking, fast)", a),
            ("a2 the same, two frame threads (not the scanner's)", a2), (f"b  encode only ({auto}, batch 32)", b),
            ("L  best possible 1/(1/a+1/b)", limit), ("L2 1/(1/a2+1/b)", limit2),
            ("s  full pipeline, encoding replaced by no work", s), (f"c  full pipeline, default precision ({auto})", c),
            ("c32 full pipeline, fp32 image tower", c32), ("c8 full pipeline, int8 image tower", c8),
            (f"c0 full pipeline {auto}, no reuse ({full_count.encoded} encodes)", seconds / full_wall),
            ("d  recipe: every 10th frame, JPEG, batch-1 fp32", d)]
    for label, value in rows:
        print(f"  {label:<52} {value:7.2f} x realtime")
    print(f"  {measured.ratios()}\n  c32 / d = {c32 / d:.1f}   c8 / d = {c8 / d:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="real footage to measure as well")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each generated clip")
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="generated clip sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage; the best is kept")
    parser.add_argument("--ratios-only", action="store_true",
                        help="only a, a2, b, L, L2, s, c, d and the ratios (no precision variants)")
    args = parser.parse_args()
    import torch

    encoders = {precision: OpenClipEncoder("ViT-B-32", pretrained=None, precision=precision)
                for precision in ("auto", "fp32", "int8")}
    parts = recipe_parts(None)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ViT-B-32 random weights; best of "
          f"{args.repeat} runs each; "
          f"default precision auto = {encoders['auto'].image_precision} on this CPU\n{describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            clip = Path(tmp) / f"ad_{w}x{h}.mp4"
            make_ad_clip(clip, seconds=args.seconds, size=(w, h))
            clips.append(clip)
        for path in [*clips, *args.videos]:
            bench_video(path, encoders, parts, max(1, args.repeat), args.ratios_only)
    print(describe())


if __name__ == "__main__":
    main()
