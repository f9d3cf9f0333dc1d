"""Whole commands as a user runs them: cold, each in a fresh process, wall time from start to exit.

Every figure is also given as a ratio to a bare ``python -c "import torch"`` timed in the same
run (the floor of anything that runs a CLIP tower), and the indexing commands next to the
recipe's whole command over the same files (every 10th frame, JPEG round trip, open_clip
preprocess, batch-1 CLIP, fp32; its own fresh process: imports, model, then the files).

The model is open_clip ViT-B-32 with random weights saved once to a .safetensors file and
passed with ``--weights`` (the path of a user with a local checkpoint), so the model costs are
real. Clips are generated ad-like H.264 (benchmarks/synthetic_video.py).

Targets (issue 13): new-query search <= 2x import torch; repeated query, labels, category report
<= 1x; a folder of 50 ten-second clips >= 5x faster than the recipe.

    python benchmarks/bench_cli.py [--size 1280x720] [--clips 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic_video import make_ad_clip  # noqa: E402

RECIPE = '''
import io, sys, time
from pathlib import Path
import av, open_clip, torch
from PIL import Image
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=sys.argv[2])
model.eval()
tokenizer = open_clip.get_tokenizer("ViT-B-32")
with torch.no_grad():
    texts = model.encode_text(tokenizer(["a construction site", "something else"]))
    texts = texts / texts.norm(dim=-1, keepdim=True)
for path in sorted(Path(sys.argv[1]).glob("*.mp4")) if Path(sys.argv[1]).is_dir() else [Path(sys.argv[1])]:
    with av.open(str(path)) as container, torch.no_grad():
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if i % 10:
                continue
            buf = io.BytesIO()
            frame.to_image().save(buf, format="JPEG", quality=90)
            image = preprocess(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).unsqueeze(0)
            feats = model.encode_image(image)
            feats = feats / feats.norm(dim=-1, keepdim=True)
            (100.0 * feats @ texts.T).softmax(dim=-1)
'''


def timed(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process running ``args``; raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... failed:\n{done.stderr[-2000:]}")
    print(f"  ({seconds:7.2f} s  {' '.join(a for a in args[-6:] if len(a) < 60)})", flush=True)  # as it goes
    return seconds


def reelsearch(*args: str) -> list[str]:
    return [sys.executable, "-c", "from indexer.cli.main import main; main()", *args]


def save_random_weights(path: Path) -> None:
    """ViT-B-32 at random init, as a checkpoint file (what --weights takes)."""
    code = ("import open_clip, sys; from safetensors.torch import save_file; "
            "m = open_clip.create_model('ViT-B-32', pretrained=None); "
            "save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1280x720", help="size of the generated clips")
    parser.add_argument("--clips", type=int, default=50, help="10-second clips in the folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each quick command; the best is kept")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = root / "vit-b-32-random.safetensors"
        save_random_weights(weights)
        single, folder = root / "one" / "clip30.mp4", root / "folder"
        single.parent.mkdir()
        folder.mkdir()
        make_ad_clip(single, seconds=30, size=(width, height), seed=1)
        for i in range(args.clips):
            make_ad_clip(folder / f"ad{i:03d}.mp4", seconds=10, size=(width, height), seed=100 + i)
        env = {**os.environ, "PYTHONPATH": str(REPO), "REELSEARCH_DATA_DIR": str(root / "index")}
        report(measure(env, root, weights, single, folder, args.repeat), args)


def measure(env: dict[str, str], root: Path, weights: Path, single: Path, folder: Path,
            repeat: int) -> dict[str, float]:
    """Wall seconds of every command (quick ones: best of ``repeat``)."""
    model = ["--model", "ViT-B-32", "--weights", str(weights)]
    best = lambda make: min(timed(make(i), env) for i in range(repeat))  # noqa: E731
    fresh = {**env, "REELSEARCH_DATA_DIR": str(root / "fresh")}
    figures = {"import torch": best(lambda i: [sys.executable, "-c", "import torch"])}
    # a new store embeds the taxonomy's prompts once; later runs find them stored
    figures["index 30 s clip, new store"] = timed(reelsearch("index", str(single), *model), fresh)
    figures["index folder"] = timed(reelsearch("index", str(folder), *model), env)  # a new store too
    figures["index 30 s clip"] = timed(reelsearch("index", str(single), *model), env)
    figures["index 30 s clip, unchanged"] = best(lambda i: reelsearch("index", str(single), *model))
    figures["recipe 30 s clip"] = timed([sys.executable, "-c", RECIPE, str(single), ""], env)
    figures["recipe folder"] = timed([sys.executable, "-c", RECIPE, str(folder), ""], env)
    video = str(single)
    query = "a man fishing from a boat at sunrise"
    figures["search new query"] = best(lambda i: reelsearch("search", f"{query} number {i}", "--min-score", "-1"))
    figures["search repeated query"] = best(lambda i: reelsearch("search", query + " number 0", "--min-score", "-1"))
    figures["report category"] = best(lambda i: reelsearch("report", video, "--label", "places"))
    figures["labels"] = best(lambda i: reelsearch("labels", video))
    return figures


def report(figures: dict[str, float], args: argparse.Namespace) -> None:
    torch_s = figures["import torch"]
    targets = {"search new query": "<= 2x", "search repeated query": "<= 1x", "report category": "<= 1x",
               "labels": "<= 1x"}
    print(f"ViT-B-32 random weights from a file; clips {args.size} H.264 25 fps; {args.clips} x 10 s in the "
          f"folder; quick commands best of {args.repeat}; every command a fresh process")
    print(f"{'command':<32} {'wall s':>8} {'x import torch':>15}  target")
    for name, seconds in figures.items():
        print(f"{name:<32} {seconds:8.2f} {seconds / torch_s:15.2f}  {targets.get(name, '')}")
    for what in ("30 s clip", "folder"):
        print(f"recipe / reelsearch index, {what}: {figures[f'recipe {what}'] / figures[f'index {what}']:.2f}"
              + ("  (target >= 5)" if what == "folder" else ""))


if __name__ == "__main__":
    main()
