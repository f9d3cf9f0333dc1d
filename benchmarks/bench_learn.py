"""Curator loop benchmark: F1 and calibration on held-out videos, before and after ``learn``.

A synthetic archive with known truth (:mod:`benchmarks.synthetic_labels`): frame embeddings drawn
around overlapping class centres, and a text side on which the zero-shot rule is deliberately wrong
for look-alikes (``sand`` fires on snow; restricted ``wine`` confuses grape juice), right for ``sea``.
A simulated curator judges whole videos (rejects wrong automatic segments, adds the true spans,
marks the video reviewed) until a category has N judgements; ``learn`` then fits, cross-validates
and maybe adopts a head. Figures are measured on held-out videos nobody judged, from the segments
the store holds (so smoothing and boundaries count) and the per-frame scores (ECE).

    python benchmarks/bench_learn.py [--videos 60] [--judgements 10 30 100] [--high-cosine]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_labels import HighCosineEncoder, SyntheticEncoder, add_videos, judge_video, taxonomy  # noqa: E402
from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.labels.fit import Counts  # noqa: E402
from indexer.labels.quality import expected_calibration_error  # noqa: E402
from indexer.labels.truth import inside  # noqa: E402
from indexer.models.loading import encoder_spec  # noqa: E402
from indexer.store import Store, curation  # noqa: E402
from search.teach.learn import learn, models  # noqa: E402

CATEGORIES = ("sea", "sand", "wine")


def held_out(store: Store, model: LabelModel, videos, label: str) -> tuple[float, float]:
    """(F1 of the stored segments, ECE of the model's per-frame scores) on ``videos``."""
    predicted, truth, scores = [], [], []
    c = model.labels.index(label)
    for v in videos:
        _ids, times, vectors = store.frames(v.id)
        spans = [(s.start, s.end) for s in store.segments(v.id) if s.label == label]
        predicted.append(inside(times, spans))
        truth.append(v.frame_truth(label))
        scores.append(model.scores(vectors)[:, c])
    t = np.concatenate(truth)
    return Counts.of(np.concatenate(predicted), t).f1, expected_calibration_error(np.concatenate(scores), t)


def run(n_judgements: int, n_videos: int, encoder: SyntheticEncoder) -> list[dict]:
    tax = taxonomy()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        curation.add_user(store, "bench", "password123")
        zero_shot = LabelModel.build(tax, encoder)
        videos = add_videos(store, encoder, zero_shot, n_videos, seed=1)
        pool, test = videos[: n_videos // 2], videos[n_videos // 2:]
        before = {label: held_out(store, zero_shot, test, label) for label in CATEGORIES}
        made = {}
        for label in CATEGORIES:
            made[label] = 0
            for v in pool:
                if made[label] >= n_judgements:
                    break
                made[label] += judge_video(store, v, label, "bench")
        started = time.perf_counter()
        report = learn(store, tax, encoder)
        seconds = time.perf_counter() - started
        _zs, current = models(store, tax, encoder)
        status = {o.label: o for o in report.outcomes}
        rows = []
        for label in CATEGORIES:
            after = held_out(store, current, test, label)
            o = status.get(label)
            rows.append({"n": n_judgements, "label": label, "made": made[label], "status": o.status if o else "-",
                         "frames": f"{o.positives}/{o.negatives}" if o else "-", "f1": (before[label][0], after[0]),
                         "ece": (before[label][1], after[1]), "seconds": seconds})
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=60, help="synthetic videos (half judged, half held out)")
    parser.add_argument("--judgements", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--high-cosine", action="store_true", help="an encoder whose cosines live in 0.6-0.9")
    args = parser.parse_args()
    encoder = HighCosineEncoder() if args.high_cosine else SyntheticEncoder()
    print(f"encoder: {encoder.name}; {args.videos} videos of 10 two-second shots, frames every 0.5 s; "
          f"half judged, half held out")
    print(f"{'N':>4} {'category':<8} {'judg.':>5} {'learn':<8} {'pos/neg':>9} {'F1 before':>9} {'F1 after':>9}"
          f" {'ECE before':>10} {'ECE after':>9}")
    for n in args.judgements:
        for r in run(n, args.videos, encoder):
            print(f"{r['n']:>4} {r['label']:<8} {r['made']:>5} {r['status']:<8} {r['frames']:>9} {r['f1'][0]:9.3f}"
                  f" {r['f1'][1]:9.3f} {r['ece'][0]:10.3f} {r['ece'][1]:9.3f}")
        print(f"     learn took {r['seconds']:.2f} s")


if __name__ == "__main__":
    main()
