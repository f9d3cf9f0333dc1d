"""What the change gate costs and loses: encodes per video-second against how well the encoded
frames stand for every sampled frame, with colour histograms alone and with the layout term.

Every sampled frame (every 0.5 s plus each shot's first frame) is embedded; a gate then picks
the frames it would encode, and each sampled frame is compared (cosine) with the encoded frame
that stands for it (the last one encoded in its shot). Printed: encodes per video-second and
the cosine's 5th percentile (target >= 0.9), mean and minimum. ViT-B-32 at random weights unless
``--weights FILE`` names a real checkpoint; a generated ad-like clip whose shots pan continuously
over textures, and any VIDEO given.

    python benchmarks/bench_change_gate.py [--weights FILE] [VIDEO ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_video import make_ad_clip  # noqa: E402
from indexer.media.change_gate import ChangeGate  # noqa: E402
from indexer.media.frames import FrameScanner  # noqa: E402
from indexer.models.clip_encoder import OpenClipEncoder  # noqa: E402


class Recorder:
    """A gate that admits every sampled frame and keeps its time, signature and shot start."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, np.ndarray, bool]] = []

    def new_shot(self) -> None:
        pass

    def admit(self, time: float, signature: np.ndarray, shot_start: bool = False) -> bool:
        self.rows.append((time, signature.copy(), shot_start))
        return True


def replay(gate: ChangeGate, rows: list[tuple[float, np.ndarray, bool]], vectors: np.ndarray) -> tuple[int, np.ndarray]:
    """Encodes the gate makes over ``rows`` and each sampled frame's cosine to its stand-in."""
    stand, chosen, reference = [], 0, 0
    for i, (time, signature, shot_start) in enumerate(rows):
        if shot_start:
            gate.new_shot()
        if gate.admit(time, signature, shot_start):
            reference, chosen = i, chosen + 1
        stand.append(reference)
    return chosen, (vectors * vectors[stand]).sum(axis=1)


def bench(path: Path, encoder: OpenClipEncoder) -> None:
    recorder = Recorder()
    scanner = FrameScanner(path, every=0.5, image_size=encoder.image_size, gate=recorder)
    images = [item.image for item in scanner if hasattr(item, "image")]
    vectors = encoder.encode_images(np.stack(images))
    seconds = scanner.info.duration
    print(f"\n== {path.name}: {len(images)} sampled frames in {seconds:.1f} s")
    gates = {"colour histograms only": ChangeGate(new_share=1.01, residual=255.0),  # every layout explained
             "histograms + layout (default)": ChangeGate()}
    for name, gate in gates.items():
        encodes, cosine = replay(gate, recorder.rows, vectors)
        print(f"  {name:<30} {encodes / seconds:5.2f} encodes/video-s   cosine to the encoded stand-in: "
              f"p5 {np.percentile(cosine, 5):.4f}  mean {cosine.mean():.4f}  min {cosine.min():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="real footage to measure as well")
    parser.add_argument("--weights", type=Path, help="a ViT-B-32 open_clip checkpoint (default: random weights)")
    args = parser.parse_args()
    encoder = OpenClipEncoder("ViT-B-32", pretrained=None, weights=args.weights)
    print(f"ViT-B-32, {'weights ' + args.weights.name if args.weights else 'random weights'}, {encoder.image_precision}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "pans_1280x720.mp4"
        make_ad_clip(clip, seconds=60, size=(1280, 720))
        for path in [clip, *args.videos]:
            bench(path, encoder)


if __name__ == "__main__":
    main()
