"""Benchmark the open_clip encoder on this machine's CPU (prints figures; not a test).

Text: milliseconds to embed one new short query with the full 77-token text tower versus the
tower truncated at the end-of-text token, and a repeated (cached) query. Images: images/s of the
ViT-B-32 image tower at batch 32 in fp32 (contiguous and channels_last), bf16 and dynamic int8,
with the cosine agreement of bf16 and int8 against fp32. Random weights run exactly as fast as
trained ones and need no download; agreement on random weights is indicative only.

    .venv/bin/python benchmarks/bench_text_encoder.py [--model ViT-B-32] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from indexer.models.clip_encoder import OpenClipEncoder  # noqa: E402
from indexer.models.precision import resolve_precision  # noqa: E402

QUERIES = [
    "a man fishing from a boat at sunrise",
    "kids playing football in the rain",
    "construction site with cranes",
    "a glass of beer on a bar counter",
    "aerial view of a city at night",
    "a woman running on a beach",
    "close-up of a smartphone screen",
    "a family eating dinner at home",
    "a red sports car on a mountain road",
    "snow falling on a forest",
    "a dog catching a frisbee",
    "people dancing at a concert",
    "a container ship in a port",
    "a chef cooking in a restaurant kitchen",
    "a cat sleeping on a sofa",
    "fireworks over a river",
]


def time_query(encoder: OpenClipEncoder, query: str) -> float:
    """Milliseconds for one ``encode_texts([query])`` call."""
    start = time.perf_counter()
    encoder.encode_texts([query])
    return (time.perf_counter() - start) * 1000


def bench_text(model: str, threads: int | None) -> None:
    """Print ms per new short query: full context vs truncated, and cached."""
    full = OpenClipEncoder(model, pretrained=None, fast_text=False, threads=threads)
    fast = OpenClipEncoder(model, pretrained=None, threads=threads)
    fast.encode_texts(["warm-up and one-time check of the truncated path"])
    full.encode_texts(["warm-up"])
    tokens = [int(fast._tokenizer([q]).argmax()) + 1 for q in QUERIES]
    f_ms, t_ms = [], []
    for query in QUERIES:  # interleaved, so load from other processes hits both alike
        f_ms.append(time_query(full, query))
        t_ms.append(time_query(fast, query))
    c_ms = [time_query(fast, query) for query in QUERIES]  # same strings again: served by the LRU cache
    diff = np.abs(full.encode_texts(QUERIES) - fast.encode_texts(QUERIES)).max()
    print(f"text tower {model}: {len(QUERIES)} short queries, {statistics.mean(tokens):.1f} tokens on average")
    print(f"  full 77 tokens : median {statistics.median(f_ms):7.2f} ms  (min {min(f_ms):.2f})")
    print(f"  truncated      : median {statistics.median(t_ms):7.2f} ms  (min {min(t_ms):.2f})"
          f"  fast path={'on' if fast.fast_text else 'OFF'}")
    print(f"  cached         : median {statistics.median(c_ms):7.3f} ms")
    print(f"  max |full - truncated| over the query embeddings: {diff:.2e}")
    batch = [q + ", photo" for q in QUERIES]  # new strings, e.g. a prompt ensemble
    for label, encoder in (("full", full), ("truncated", fast)):
        start = time.perf_counter()
        encoder.encode_texts(batch)
        print(f"  {len(batch)} new prompts in one call, {label}: {(time.perf_counter() - start) * 1000:.1f} ms")


def synthetic_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with a few blocks: closer to real frames than uniform noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        a, b, c = rng.uniform(0, 255, 3), rng.uniform(-120, 120, 3), rng.uniform(-120, 120, 3)
        img = a + b * xx[..., None] + c * yy[..., None]
        for _ in range(3):
            y0, x0 = rng.integers(0, size - size // 4, 2)
            img[y0 : y0 + size // 4, x0 : x0 + size // 4] = rng.uniform(0, 255, 3)
        images[i] = np.clip(img, 0, 255)
    return images


def batch_rates(encoders: dict[str, OpenClipEncoder], images: np.ndarray, rounds: int) -> dict[str, list[float]]:
    """Images/s of each encoder per batch, measured round-robin so load from other processes hits all alike."""
    rates: dict[str, list[float]] = {label: [] for label in encoders}
    for encoder in encoders.values():
        encoder.encode_images(images[: encoder.batch_size])  # warm-up
    for _ in range(rounds):
        for label, encoder in encoders.items():
            start = time.perf_counter()
            encoder.encode_images(images)
            rates[label].append(len(images) / (time.perf_counter() - start))
    return rates


def bench_images(model: str, rounds: int, threads: int | None) -> None:
    """Print images/s at batch 32 for fp32 (contiguous, channels_last), bf16 and int8, and their agreement."""
    fp32 = OpenClipEncoder(model, pretrained=None, precision="fp32", threads=threads)
    images = synthetic_images(32, fp32.image_size)
    encoders = {
        "fp32 contiguous   ": OpenClipEncoder(model, pretrained=None, precision="fp32", channels_last=False,
                                              threads=threads),
        "fp32 channels_last": fp32,
        "bf16 channels_last": OpenClipEncoder(model, pretrained=None, precision="bf16", threads=threads),
        "int8 channels_last": OpenClipEncoder(model, pretrained=None, precision="int8", threads=threads),
    }
    print(f"image tower {model}, batch 32, {rounds} rounds (round-robin); "
          f"--precision auto picks {resolve_precision('auto')} on this CPU:")
    for label, rates in batch_rates(encoders, images, rounds).items():
        print(f"  {label}: median {statistics.median(rates):6.2f} images/s, best {max(rates):6.2f}")
    for precision in ("bf16", "int8"):
        mean, low = fp32.agreement(images, precision)
        print(f"  {precision} vs fp32 cosine agreement (random weights): mean {mean:.5f}, min {low:.5f}")


def main() -> None:
    """Parse arguments and run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    print(describe())
    bench_text(args.model, args.threads)
    if not args.skip_images:
        bench_images(args.model, args.rounds, args.threads)


if __name__ == "__main__":
    main()
