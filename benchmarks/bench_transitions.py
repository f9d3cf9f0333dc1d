"""Shot-boundary benchmark: per-type precision and recall of cuts, fades and dissolves on a
generated set with known truth, and what the detector costs per decoded frame.

(1) Accuracy. ``--clips`` edited clips (benchmarks/synthetic_edits.py) at 25 fps, 29.97 fps and a
    variable rate, some letterboxed or pillarboxed, each a random sequence of hard cuts,
    low-contrast cuts, dissolves and fades out of / into black and white of 10..30 frames, and
    white flashes of 1..3 frames inside shots. A transition counts as found when one of the same
    kind (and colour) has its first and last frame within 2 frames of the truth; a cut when it is
    at the exact frame; a flash is an error when any cut is reported within it or at its end.
(2) Cost. One textured 720p clip with pans (benchmarks/synthetic_video.py): the wall time of
    decoding alone, and the time spent per frame in the hard-cut scoring of before this detector
    (signature and score) and in the full detector (bars, lookahead, flashes, gradual
    transitions), as microseconds per frame and as a share of decoding. Best of ``--repeat`` runs.

    python benchmarks/bench_transitions.py [--clips 12] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_edits import Edit, EditedClip, make_edited_clip  # noqa: E402
from benchmarks.synthetic_video import make_ad_clip  # noqa: E402
from indexer.media.cuts import CutDetector  # noqa: E402
from indexer.media.frames import FrameScanner  # noqa: E402
from indexer.media.signature import SignatureGrid  # noqa: E402
from indexer.types import ShotCut, Transition  # noqa: E402

TOLERANCE = 2  # frames


def random_plan(rng: np.random.Generator, edits: int) -> list[tuple]:
    """A random edit sequence: every shot is followed by one kind of edit."""
    plan: list[tuple] = [("shot", int(rng.integers(25, 45)))]
    for _ in range(edits):
        kind = rng.choice(["cut", "low_cut", "dissolve", "fade", "flash"], p=[0.2, 0.1, 0.3, 0.3, 0.1])
        length = int(rng.integers(10, 31))
        colour = str(rng.choice(["black", "white"]))
        if kind == "cut":
            plan.append(("shot", int(rng.integers(25, 45))))
        elif kind == "low_cut":
            plan.append(("shot", int(rng.integers(25, 45)), {"contrast": 0.4, "similar": True}))
        elif kind == "dissolve":
            plan += [("dissolve", length), ("shot", int(rng.integers(25, 45)))]
        elif kind == "fade":
            plan += [("fade_out", length, {"colour": colour}), ("hold", int(rng.integers(6, 15)), {"colour": colour}),
                     ("fade_in", int(rng.integers(10, 31)), {"colour": colour}), ("more", int(rng.integers(20, 40)))]
        else:
            plan += [("more", int(rng.integers(10, 20))), ("flash", int(rng.integers(1, 4))),
                     ("more", int(rng.integers(15, 30)))]
    return plan


def make_set(folder: Path, clips: int, edits: int, seed: int = 11) -> list[EditedClip]:
    rng = np.random.default_rng(seed)
    out = []
    for n in range(clips):
        plan = random_plan(rng, edits)
        frames = sum(int(step[1]) for step in plan) + sum(int(step[1]) for step in plan if step[0] == "dissolve")
        rate = n % 3
        kwargs: dict = {"fps": Fraction(25)} if rate == 0 else {"fps": Fraction(30000, 1001)}
        if rate == 2:
            kwargs = {"frame_durations": [Fraction(int(d), 1000) for d in rng.choice([20, 33, 40, 50], size=frames)]}
        box = ["", "", "letterbox", "pillarbox"][n % 4]
        out.append(make_edited_clip(folder / f"edit{n:02d}.mp4", plan, box=box, seed=seed + n, **kwargs))
    return out


def type_of(edit: Edit) -> str:
    return edit.kind if edit.kind in ("cut", "dissolve", "flash") else f"{edit.kind} {edit.colour}"


def score_clip(clip: EditedClip, found: Counter, truth: Counter, hits: Counter, flash_errors: list) -> None:
    """Add one clip's matches to the per-type counters."""
    times = np.asarray(clip.frame_times)
    number = lambda t: int(np.argmin(np.abs(times - t)))  # noqa: E731
    items = list(FrameScanner(clip.path))
    cuts = [number(i.time) for i in items if isinstance(i, ShotCut)]
    transitions = [(f"{i.kind} {i.colour}".strip(), number(i.start), number(i.end))
                   for i in items if isinstance(i, Transition)]
    for kind, _, _ in transitions:
        found[kind] += 1
    found["cut"] += len(cuts)
    for edit in clip.edits:
        kind = type_of(edit)
        if kind == "flash":
            truth[kind] += 1
            if any(edit.first <= c <= edit.last + 1 for c in cuts):
                flash_errors.append((clip.path.name, edit))
            continue
        truth[kind] += 1
        if kind == "cut":
            hits[kind] += edit.first in cuts
        else:
            hits[kind] += any(k == kind and abs(a - edit.first) <= TOLERANCE and abs(b - edit.last) <= TOLERANCE
                              for k, a, b in transitions)


def accuracy(folder: Path, clips: int) -> None:
    started = time.perf_counter()
    made = make_set(folder, clips, edits=20)
    print(f"generated {len(made)} clips, {sum(len(c.frame_times) for c in made)} frames "
          f"in {time.perf_counter() - started:.0f} s")
    found, truth, hits, flash_errors = Counter(), Counter(), Counter(), []
    for clip in made:
        score_clip(clip, found, truth, hits, flash_errors)
    transitions = sum(v for k, v in truth.items() if k not in ("cut", "flash"))
    print(f"\ntruth: {transitions} gradual transitions, {truth['cut']} cuts, {truth['flash']} flashes")
    print(f"{'type':<16}{'truth':>6}{'found':>7}{'correct':>9}{'recall':>8}{'precision':>11}")
    for kind in sorted(k for k in truth if k != "flash"):
        recall = hits[kind] / truth[kind] if truth[kind] else float("nan")
        precision = hits[kind] / found[kind] if found[kind] else float("nan")
        print(f"{kind:<16}{truth[kind]:>6}{found[kind]:>7}{hits[kind]:>9}{recall:>8.3f}{precision:>11.3f}")
    extra = sorted(set(found) - set(truth))
    for kind in extra:
        print(f"{kind:<16}{0:>6}{found[kind]:>7}{0:>9}{'-':>8}{0.0:>11.3f}")
    print(f"flashes reported as cuts: {len(flash_errors)} of {truth['flash']}")


def per_frame_costs(path: Path, repeat: int) -> None:
    """Wall time of decoding alone per frame, and the time spent in each detector per frame
    (timed around its calls in a decode loop: decoder threads run on meanwhile)."""
    def run(work) -> tuple[float, float, int]:
        best_wall, best_work, frames = float("inf"), float("inf"), 0
        for _ in range(repeat):
            spent, frames = 0.0, 0
            start = time.perf_counter()
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    if work is not None:
                        t0 = time.perf_counter()
                        work(frame, frames)
                        spent += time.perf_counter() - t0
                    frames += 1
            best_wall, best_work = min(best_wall, time.perf_counter() - start), min(best_work, spent)
        return best_wall, best_work, frames

    grid = SignatureGrid()
    previous: list[np.ndarray] = []

    def before(frame: av.VideoFrame, i: int) -> None:  # the hard-cut scoring this replaces
        signature = grid(frame)
        if previous:
            float(np.abs(signature - previous[0]).mean())
        previous[:] = [signature]

    detector = CutDetector()

    def after(frame: av.VideoFrame, i: int) -> None:
        if i == 0:
            detector.reset()
        detector.feed(frame, i / 25, i)

    decode, _, frames = run(None)
    _, old, _ = run(before)
    _, new, _ = run(after)
    per = lambda t: 1e6 * t / frames  # noqa: E731
    print(f"\n{frames} frames of {path.name} (720p H.264), best of {repeat}:")
    print(f"  decoding (wall, frame threads)   {per(decode):8.0f} us/frame")
    print(f"  hard-cut scoring (before)        {per(old):8.0f} us/frame  ({old / decode:.1%} of decoding)")
    print(f"  full detector (after)            {per(new):8.0f} us/frame  ({new / decode:.1%} of decoding)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12, help="edited clips (about 20 edits each)")
    parser.add_argument("--cost-only", action="store_true", help="skip the accuracy part")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each cost measurement; best kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.cost_only:
            accuracy(folder, args.clips)
        clip = folder / "ad720.mp4"
        make_ad_clip(clip, seconds=20.0, size=(1280, 720))
        per_frame_costs(clip, args.repeat)


if __name__ == "__main__":
    main()
