"""Generate edited clips with known truth: hard cuts, fades, dissolves, flashes, black bars.

A clip is written from a *plan*, a list of steps (see :func:`make_edited_clip`). Shots are
textured (random colour blocks and rectangles) with an object moving across and sensor noise (or
a camera pan), so frames inside a shot differ as in real footage. Transitions blend frames exactly: frame ``i`` of a ``k``-frame dissolve is
``(1 - a) * A + a * B`` with ``a = (i + 1) / (k + 1)``, both shots still moving; a fade blends
with a flat colour. Used by the tests (tests/test_transitions.py) and by
benchmarks/bench_transitions.py. Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

FLAT = {"black": (0, 0, 0), "white": (255, 255, 255), "blue": (20, 40, 160)}


@dataclass(frozen=True)
class Edit:
    """One edit of the truth: ``kind`` cut, dissolve, fade_out, fade_in or flash; ``first`` and
    ``last`` are frame numbers (a cut's are both the first frame of the new shot)."""

    kind: str
    first: int
    last: int
    colour: str = ""


@dataclass(frozen=True)
class EditedClip:
    path: Path
    frame_times: tuple[float, ...]  # exact presentation time of every frame
    edits: tuple[Edit, ...]
    bars: tuple[int, int, int, int]  # black bar thickness in pixels: top, bottom, left, right


class _Shot:
    """A textured picture with an object moving across it (``pan`` > 0: the camera pans
    that many pixels a frame instead); ``frame(j)`` is its j-th frame, with fresh sensor noise."""

    def __init__(self, rng: np.random.Generator, height: int, width: int, contrast: float,
                 base: np.ndarray | None, pan: int = 0, rgb: tuple[int, int, int] | None = None) -> None:
        self.rng, self.height, self.width, self.pan = rng, height, width, pan
        big_h, big_w = height, width + 600 * pan  # room for 600 frames of pan
        small = rng.integers(0, 256, size=(big_h // 24 + 2, big_w // 24 + 2, 3)).astype(np.float32)
        tex = np.repeat(np.repeat(small, 24, axis=0), 24, axis=1)[:big_h, :big_w]
        for _ in range(12 + 12 * pan):
            y, x = rng.integers(0, big_h - 30), rng.integers(0, big_w - 30)
            tex[y:y + rng.integers(10, height // 2), x:x + rng.integers(10, width // 2)] = rng.integers(0, 256, 3)
        mean = tex.mean(axis=(0, 1)) if base is None else base
        self.texture = np.clip(mean + contrast * (tex - tex.mean(axis=(0, 1))), 0, 255)
        if rgb is not None:  # a flat colour instead of a texture
            self.texture[:] = mean = np.asarray(rgb, np.float32)
        self.mean = mean
        self.object = rng.integers(0, 256, 3).astype(np.float32)
        self.speed = (int(rng.integers(1, 4)), int(rng.integers(-2, 3)))

    def frame(self, j: int) -> np.ndarray:
        image = self.texture[:, self.pan * j:self.pan * j + self.width].copy()
        side = self.height // 5
        x = (self.width // 3 + self.speed[0] * j) % (self.width - side)
        y = (self.height // 3 + self.speed[1] * j) % (self.height - side)
        image[y:y + side, x:x + side] = self.object
        image += self.rng.normal(0, 2.0, size=image.shape).astype(np.float32)  # sensor noise
        return image


def _plan_frames(plan: Sequence[tuple], rng: np.random.Generator, height: int, width: int
                 ) -> tuple[list[np.ndarray], list[Edit]]:
    """Render the plan into float RGB frames of the picture area, and the edits' truth."""
    frames: list[np.ndarray] = []
    edits: list[Edit] = []
    shot: _Shot | None = None
    shot_frame = 0
    pending: tuple | None = None  # a dissolve waiting for its next shot
    for step in plan:
        kind, count = step[0], int(step[1])
        options = step[2] if len(step) > 2 else {}
        if kind == "shot":
            base = shot.mean if (shot is not None and options.get("similar")) else None
            new = _Shot(rng, height, width, float(options.get("contrast", 1.0)), base,
                        int(options.get("pan", 0)), options.get("rgb"))
            if pending is not None:  # finish the dissolve from the old shot into this one
                k = int(pending[1])
                start = len(frames)
                for i in range(k):
                    a = (i + 1) / (k + 1)
                    frames.append((1 - a) * shot.frame(shot_frame + i) + a * new.frame(i))
                edits.append(Edit("dissolve", start, start + k - 1))
                new_start = k
                pending = None
            else:
                if frames:
                    edits.append(Edit("cut", len(frames), len(frames)))
                new_start = 0
            shot, shot_frame = new, new_start
            frames.extend(shot.frame(shot_frame + j) for j in range(count))
            shot_frame += count
        elif kind == "more":
            frames.extend(shot.frame(shot_frame + j) for j in range(count))
            shot_frame += count
        elif kind == "dissolve":
            pending = step
        elif kind in ("fade_out", "fade_in", "hold", "flash"):
            colour = options.get("colour", "white" if kind == "flash" else "black")
            flat = np.array(FLAT[colour], np.float32)
            start = len(frames)
            if kind == "fade_in":  # out of the flat colour into a new shot
                shot, shot_frame = _Shot(rng, height, width, 1.0, None), 0
            for i in range(count):
                if kind == "fade_out":
                    a = (i + 1) / (count + 1)
                    frames.append((1 - a) * shot.frame(shot_frame) + a * flat)
                    shot_frame += 1
                elif kind == "fade_in":
                    a = (i + 1) / (count + 1)
                    frames.append((1 - a) * flat + a * shot.frame(shot_frame))
                    shot_frame += 1
                else:
                    frames.append(np.broadcast_to(flat, (height, width, 3)))
                    if kind == "flash":
                        shot_frame += 1  # the shot goes on behind the flash
            if kind != "hold":
                edits.append(Edit(kind, start, start + count - 1, colour))
        else:
            raise ValueError(f"unknown plan step {step!r}")
    return frames, edits


def make_edited_clip(path: Path, plan: Sequence[tuple], *, fps: Fraction = Fraction(25),
                     frame_durations: Sequence[Fraction] | None = None, size: tuple[int, int] = (320, 180),
                     box: str = "", seed: int = 1) -> EditedClip:
    """Write an H.264 clip from ``plan`` and return its truth.

    Steps: ``("shot", n[, {"contrast": c, "similar": True, "pan": p}])`` a new shot of n frames (a
    hard cut from whatever came before; ``similar`` keeps the previous shot's mean colour,
    ``contrast`` < 1 flattens it: a low-contrast cut; ``pan`` moves the camera p pixels a frame;
    ``rgb`` makes it one colour); ``("more", n)`` n more frames of the current shot;
    ``("dissolve", k)`` k blended frames into the *next* shot; ``("fade_out", k, {"colour": c})``
    fades the current shot into a flat colour (black, white, blue), ``("fade_in", k, ...)`` a new
    shot out of one (continue it with "more"); ``("hold", n, {"colour": c})`` n flat frames;
    ``("flash", k)`` k white frames over the running shot. ``box`` "letterbox" (2.39:1 picture) or
    "pillarbox" (4:3 picture) adds black bars. VFR when ``frame_durations`` is given.
    """
    width, height = size
    bars = (0, 0, 0, 0)
    pic_w, pic_h = width, height
    if box == "letterbox":
        pic_h = int(round(width / 2.39)) // 2 * 2
        top = (height - pic_h) // 2
        bars = (top, height - pic_h - top, 0, 0)
    elif box == "pillarbox":
        pic_w = int(round(height * 4 / 3)) // 2 * 2
        left = (width - pic_w) // 2
        bars = (0, 0, left, width - pic_w - left)
    frames, edits = _plan_frames(plan, np.random.default_rng(seed), pic_h, pic_w)
    durations = list(frame_durations) if frame_durations is not None else [1 / Fraction(fps)] * len(frames)
    if len(durations) < len(frames):
        raise ValueError(f"need {len(frames)} frame durations, got {len(durations)}")
    time_base = Fraction(1, 90000)
    times, t = [], Fraction(0)
    canvas = np.zeros((height, width, 3), np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        for i, image in enumerate(frames):
            canvas[bars[0]:height - bars[1], bars[2]:width - bars[3]] = np.clip(image + 0.5, 0, 255)
            frame = av.VideoFrame.from_ndarray(canvas, "rgb24")
            frame.pts, frame.time_base = int(t / time_base), time_base
            times.append(float(t))
            t += Fraction(durations[i])
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return EditedClip(Path(path), tuple(times), tuple(edits), bars)
