"""Indexing speed before/after a change, measured fairly on a shared machine: runs
``benchmarks/bench_index.py`` alternately from two checkouts (A = before, B = after: ABAB...),
so load from other work falls on both sides alike, and prints c (full pipeline, x realtime),
L (best possible), c/L and c/d of every run, then the medians and the ratio after/before.

    python benchmarks/ab_index.py --before /work/wt/arch-base --after /work/main \
        [--rounds 2] [--sizes 1280x720,1920x1080] [--seconds 10] [--repeat 2]

Each checkout runs its own code (``PYTHONPATH`` = the checkout) with this interpreter.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FIGURES = {"c": r"^\s*c\s+full pipeline.*?([\d.]+) x realtime", "L": r"^\s*L\s+best possible.*?([\d.]+) x realtime",
           "c/L": r"c / L = ([\d.]+)", "c/d": r"c / d = ([\d.]+)"}


@dataclass(frozen=True)
class Run:
    """The figures of one bench_index run of one checkout at one size."""

    side: str
    size: str
    figures: dict[str, float]


def bench(checkout: Path, size: str, seconds: float, repeat: int) -> dict[str, float]:
    """Run bench_index.py of ``checkout`` at ``size``; its figures by name.

    Raises: RuntimeError if the run fails or a figure is missing from its output.
    """
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "benchmarks/bench_index.py", "--seconds", str(seconds), "--repeat", str(repeat),
           "--sizes", size]
    done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"bench_index in {checkout} failed:\n{done.stderr[-2000:]}")
    figures = {}
    for name, pattern in FIGURES.items():
        found = re.search(pattern, done.stdout, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {name} in the output of {checkout}:\n{done.stdout}")
        figures[name] = float(found.group(1))
    return figures


def summary(runs: list[Run], size: str) -> None:
    """Medians per side at ``size`` and the after/before ratio of each figure."""
    medians = {side: {name: statistics.median(r.figures[name] for r in runs if r.side == side and r.size == size)
                      for name in FIGURES} for side in ("before", "after")}
    for side, values in medians.items():
        print(f"{size} median {side:<6} " + "  ".join(f"{k} {v:.2f}" for k, v in values.items()))
    print(f"{size} after/before (medians): " + "  ".join(
        f"{k} {medians['after'][k] / medians['before'][k]:.3f}" for k in FIGURES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="checkout of the code before")
    parser.add_argument("--after", type=Path, required=True, help="checkout of the code after")
    parser.add_argument("--rounds", type=int, default=2, help="AB pairs per size")
    parser.add_argument("--sizes", default="1280x720", help="clip sizes, comma separated")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    runs: list[Run] = []
    for size in args.sizes.split(","):
        for round_no in range(1, args.rounds + 1):
            for side, checkout in (("before", args.before), ("after", args.after)):
                run = Run(side, size, bench(checkout.resolve(), size, args.seconds, args.repeat))
                runs.append(run)
                print(f"{size} round {round_no} {side:<6} " + "  ".join(
                    f"{k} {v:.2f}" for k, v in run.figures.items()), flush=True)
        summary(runs, size)


if __name__ == "__main__":
    main()
