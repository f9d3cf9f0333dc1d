"""Whole commands as a user runs them, cold, each in a fresh process; then the in-process rates.

Every command's wall time (start to exit) is also given as a ratio to a bare
``python -c "import torch"`` timed in the same run (the floor of anything that runs a CLIP
tower), and ``index`` next to the recipe's whole command over the same files
(``benchmarks/recipe.py``: every 10th frame, JPEG round trip, open_clip preprocess, batch-1
fp32 CLIP; its own fresh process: imports, model, then the files).

The model is open_clip ViT-B-32 at random initialisation saved once as a local checkpoint file
and passed as ``--pretrained PATH`` (what a user with a downloaded checkpoint does; the recipe
loads the same file), so model costs are real and a new query takes the text-tower-alone path.
Clips are generated ad-like H.264 (benchmarks/synthetic_video.py). ``index`` runs without the
word extractors (``--no-ocr --asr-model none``): the recipe reads no words either.

In-process (this process, models loaded once), on the 30 s clip: a (analysis-grade decode
only), b (encode only), c (the pipeline into a fresh store), d (the recipe), L = 1/(1/a+1/b);
and indexing the first ``--overlap-clips`` clips of the folder file after file, with two files
in flight (encoder runs taking turns: the default), and two in flight with encoders running at once,
the three alternating, ``--overlap-rounds`` times each.

Targets (issue 13): new-query search <= 2x import torch; repeated query, labels, category report
<= 1x; the folder of 50 ten-second clips >= 5x faster than the recipe's whole command;
in-process c >= 5 d and c >= 0.9 L.

    python benchmarks/bench_cli.py [--size 1280x720] [--clips 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.synthetic_video import make_ad_clip  # noqa: E402

RECIPE = REPO / "benchmarks" / "recipe.py"
WORDS_OFF = ("--no-ocr", "--asr-model", "none")
QUERY = "a man fishing from a boat at sunrise"


def timed(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process running ``args`` (printed as it goes); raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... failed:\n{done.stderr[-2000:]}")
    print(f"  ({seconds:7.2f} s  {' '.join(Path(a).name if len(a) > 60 else a for a in args[2:])})", flush=True)
    return seconds


def reelsearch(*args: str) -> list[str]:
    return [sys.executable, "-c", "from indexer.cli.main import main; main()", *args]


def save_checkpoint(path: Path) -> None:
    """ViT-B-32 at random init as a .safetensors state dict: a file open_clip loads as ``pretrained=PATH``."""
    code = ("import open_clip, sys; from safetensors.torch import save_file; "
            "m = open_clip.create_model('ViT-B-32', pretrained=None); "
            "save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def make_clips(root: Path, size: tuple[int, int], clips: int, overlap_clips: int) -> tuple[Path, Path, Path]:
    """The 30 s clip, the folder of ``clips`` 10 s clips, and a folder linking its first ``overlap_clips``."""
    single, folder, few = root / "one" / "clip30.mp4", root / "folder", root / "few"
    for made in (single.parent, folder, few):
        made.mkdir()
    with ProcessPoolExecutor(max_workers=2) as pool:  # generating is not measured
        jobs = [pool.submit(make_ad_clip, single, seconds=30, size=size, seed=1)]
        jobs += [pool.submit(make_ad_clip, folder / f"ad{i:03d}.mp4", seconds=10, size=size, seed=100 + i)
                 for i in range(clips)]
        for job in jobs:
            job.result()
    for clip in sorted(folder.glob("*.mp4"))[:overlap_clips]:
        os.link(clip, few / clip.name)
    return single, folder, few


def commands(env: dict[str, str], root: Path, checkpoint: Path, single: Path, folder: Path,
             repeat: int) -> dict[str, float]:
    """Wall seconds of every command (quick ones: best of ``repeat``)."""
    model = ["--model", "ViT-B-32", "--pretrained", str(checkpoint), *WORDS_OFF]
    best = lambda make: min(timed(make(i), env) for i in range(repeat))  # noqa: E731
    fresh = {**env, "REELSEARCH_DATA_DIR": str(root / "fresh")}
    figures = {"import torch": best(lambda i: [sys.executable, "-c", "import torch"])}
    # a new store embeds the taxonomy's prompts once; later runs find them stored
    figures["index 30 s clip, new store"] = timed(reelsearch("index", str(single), *model), fresh)
    figures["index folder, new store"] = timed(reelsearch("index", str(folder), *model), env)
    figures["index 30 s clip"] = timed(reelsearch("index", str(single), *model), env)
    figures["index 30 s clip, unchanged"] = best(lambda i: reelsearch("index", str(single), *model))
    figures["recipe 30 s clip"] = timed([sys.executable, str(RECIPE), str(single), str(checkpoint)], env)
    figures["recipe folder"] = timed([sys.executable, str(RECIPE), str(folder), str(checkpoint)], env)
    figures["search new query"] = best(lambda i: reelsearch("search", f"{QUERY} number {i}", "--min-score", "-1"))
    figures["search repeated query"] = best(lambda i: reelsearch("search", f"{QUERY} number 0", "--min-score", "-1"))
    figures["report category"] = best(lambda i: reelsearch("report", str(single), "--label", "places"))
    figures["labels"] = best(lambda i: reelsearch("labels", str(single)))
    return figures


def prepare(checkpoint: Path) -> str:
    """Load the encoder once in a fresh process, so a derived tower (onnxruntime int8) is made
    before the timed commands, as after a user's first ``index``; say what it took."""
    code = ("import time; from indexer.models.clip_encoder import OpenClipEncoder; t = time.perf_counter(); "
            "e = OpenClipEncoder('ViT-B-32', pretrained=None, weights=__import__('sys').argv[1]); "
            "print(f'image tower {e.image_precision}, {time.perf_counter() - t:.1f} s')")
    done = subprocess.run([sys.executable, "-c", code, str(checkpoint)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return done.stdout.strip()


def in_process(checkpoint: Path, single: Path, few: Path, repeat: int, rounds: int) -> dict[str, object]:
    """The in-process rates of the 30 s clip and the overlap walls (see the module docstring)."""
    from benchmarks.bench_index import overlap_walls, rates
    from benchmarks.recipe import recipe_parts
    from indexer.models.clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder("ViT-B-32", pretrained=None, weights=checkpoint)  # precision auto
    measured = rates(single, encoder, recipe_parts(str(checkpoint)), repeat)
    walls = overlap_walls(few, encoder, rounds)
    return {"a": measured.a, "b": measured.b, "c": measured.c, "d": measured.d, "L": measured.limit,
            "precision": encoder.image_precision, "walls": walls, "repeat": repeat}


def report(figures: dict[str, float], rates: dict[str, object], args: argparse.Namespace) -> None:
    torch_s = figures["import torch"]
    targets = {"search new query": "<= 2x", "search repeated query": "<= 1x", "report category": "<= 1x",
               "labels": "<= 1x"}
    print(f"\nViT-B-32 random init from a local checkpoint (--pretrained PATH); clips {args.size} H.264 25 fps; "
          f"{args.clips} x 10 s in the folder; quick commands best of {args.repeat}; every command a fresh "
          f"process; index without OCR/ASR\n{describe()}")
    print(f"{'command':<32} {'wall s':>8} {'x import torch':>15}  target")
    for name, seconds in figures.items():
        print(f"{name:<32} {seconds:8.2f} {seconds / torch_s:15.2f}  {targets.get(name, '')}")
    print(f"recipe / reelsearch index, 30 s clip: {figures['recipe 30 s clip'] / figures['index 30 s clip']:.2f}")
    print(f"recipe / reelsearch index, folder: {figures['recipe folder'] / figures['index folder, new store']:.2f}"
          "  (target >= 5)")
    a, b, c, d, limit = (float(rates[k]) for k in "abcdL")  # type: ignore[arg-type]
    print(f"in-process, 30 s clip (x realtime, best of {rates['repeat']}): a decode {a:.2f}, b encode "
          f"({rates['precision']}) {b:.2f}, L {limit:.2f}, c pipeline {c:.2f}, d recipe {d:.2f}; "
          f"c / d = {c / d:.2f} (target >= 5), c / L = {c / limit:.2f} (target >= 0.9)")
    walls: dict[str, list[float]] = rates["walls"]  # type: ignore[assignment]
    base = min(walls["file after file"])
    print(f"indexing {args.overlap_clips} x 10 s clips in-process, the modes alternating (wall s; "
          f"speed-up = best file-after-file / best of the mode):")
    for mode, seconds in walls.items():
        print(f"  {mode:<30} {' '.join(f'{w:6.2f}' for w in seconds)}   speed-up {base / min(seconds):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1280x720", help="size of the generated clips")
    parser.add_argument("--clips", type=int, default=50, help="10-second clips in the folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each quick command; the best is kept")
    parser.add_argument("--overlap-clips", type=int, default=10, help="clips indexed with and without overlap")
    parser.add_argument("--overlap-rounds", type=int, default=2, help="alternating runs of each")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    started = time.perf_counter()
    print(describe(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint = root / "vit-b-32-random.safetensors"
        save_checkpoint(checkpoint)
        print(f"one-time preparation of these weights, as a user's first index does: {prepare(checkpoint)}", flush=True)
        single, folder, few = make_clips(root, (width, height), args.clips, min(args.overlap_clips, args.clips))
        print(f"clips made in {time.perf_counter() - started:.0f} s", flush=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "REELSEARCH_DATA_DIR": str(root / "index")}
        figures = commands(env, root, checkpoint, single, folder, args.repeat)
        rates = in_process(checkpoint, single, few, max(1, args.repeat - 1), args.overlap_rounds)
        report(figures, rates, args)
    print(f"bench_cli took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
