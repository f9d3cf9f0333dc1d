"""Synthetic test videos generated with PyAV, with exactly known cut times.

Each scene is a solid colour with a small moving square (so frames inside a shot differ a
little, as real footage does). Frame times come from the PTS we write, so the truth is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from indexer.models.colour import COLOURS


#: A taxonomy whose categories are colour words, for the fake colour encoder.
COLOUR_TAXONOMY = """
version = 1
threshold = 0.5
background = ["a photo", "a video frame", "text on a screen"]

[[category]]
id = "red"
prompts = ["red", "a red scene"]

[[category]]
id = "blue"
prompts = ["blue", "a blue scene"]

[[category]]
id = "green"
prompts = ["green"]
"""


@dataclass(frozen=True)
class Scene:
    colour: str  # a key of indexer.models.colour.COLOURS
    frames: int
    marker: bool = True  # draw the moving square (False: a perfectly uniform picture)


@dataclass(frozen=True)
class GeneratedVideo:
    path: Path
    frame_times: tuple[float, ...]  # exact presentation time of every frame, from 0
    cut_times: tuple[float, ...]  # time of the first frame of each scene after the first
    scene_spans: tuple[tuple[str, float, float], ...]  # (colour, start, end) per scene
    duration: float


def _frame_image(colour: str, i: int, width: int, height: int, marker: bool = True) -> np.ndarray:
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = COLOURS[colour]
    if not marker:
        return img
    side = max(4, min(width, height) // 8)
    x = (i * 3) % max(1, width - side)
    y = (i * 2) % max(1, height - side)
    img[y : y + side, x : x + side] = 255 - np.array(COLOURS[colour], dtype=np.uint8)
    return img


def make_video(
    path: Path,
    scenes: Sequence[Scene],
    *,
    fps: Fraction = Fraction(30000, 1001),
    size: tuple[int, int] = (160, 120),
    frame_durations: Sequence[Fraction] | None = None,
    codec: str = "libx264",
) -> GeneratedVideo:
    """Write a video of solid-colour scenes and return its exact timing truth.

    ``frame_durations`` (seconds per frame, one per frame) makes a variable-frame-rate video;
    otherwise every frame lasts ``1 / fps``.
    """
    total = sum(s.frames for s in scenes)
    if frame_durations is None:
        frame_durations = [1 / Fraction(fps)] * total
    if len(frame_durations) != total:
        raise ValueError("need one duration per frame")
    time_base = Fraction(1, 90000)
    starts = [Fraction(0)]
    for d in frame_durations:
        starts.append(starts[-1] + Fraction(d))
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        i = 0
        for scene in scenes:
            for _ in range(scene.frames):
                frame = av.VideoFrame.from_ndarray(_frame_image(scene.colour, i, width, height, scene.marker), "rgb24")
                frame.pts = int(starts[i] / time_base)
                frame.time_base = time_base
                container.mux(stream.encode(frame))
                i += 1
        container.mux(stream.encode(None))
    times = tuple(float(t) for t in starts[:-1])
    cut_idx, spans, k = [], [], 0
    for n, scene in enumerate(scenes):
        if n:
            cut_idx.append(k)
        spans.append((scene.colour, float(starts[k]), float(starts[k + scene.frames])))
        k += scene.frames
    return GeneratedVideo(
        path=Path(path),
        frame_times=times,
        cut_times=tuple(times[j] for j in cut_idx),
        scene_spans=tuple(spans),
        duration=float(starts[-1]),
    )
