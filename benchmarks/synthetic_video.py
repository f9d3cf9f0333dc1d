"""Generate an H.264 benchmark clip shaped like a TV ad: textured shots 1.5-4 s long with camera pans.

Flat colours decode unrealistically fast; these frames carry texture and motion so the
decoder and the encoder do real work. Deterministic for a given seed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random colour texture with some sharp rectangles (like sets and packshots)."""
    small = rng.integers(0, 256, size=(height // 32 + 2, width // 32 + 2, 3), dtype=np.uint8)
    tex = np.repeat(np.repeat(small, 32, axis=0), 32, axis=1)[:height, :width].astype(np.int16)
    for _ in range(12):
        y, x = rng.integers(0, height - 40), rng.integers(0, width - 40)
        h, w = rng.integers(20, height // 3), rng.integers(20, width // 3)
        tex[y:y + h, x:x + w] = rng.integers(0, 256, size=3)
    tex += rng.integers(-12, 13, size=tex.shape, dtype=np.int16)  # film grain
    return np.clip(tex, 0, 255).astype(np.uint8)


def make_ad_clip(path: Path, *, seconds: float = 30.0, size: tuple[int, int] = (1280, 720),
                 fps: Fraction = Fraction(25), seed: int = 7) -> list[float]:
    """Write the clip; return the true cut times in seconds (first frame of each new shot)."""
    rng = np.random.default_rng(seed)
    width, height = size
    total = int(seconds * fps)
    cuts, frame_no = [], 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        while frame_no < total:
            shot_len = min(total - frame_no, int(rng.uniform(1.5, 4.0) * fps))
            dx, dy = int(rng.integers(-4, 5)), int(rng.integers(-1, 2))
            # a continuous pan: the texture is large enough for the whole shot, so the only
            # discontinuities in the clip are the cuts it returns
            span_x, span_y = abs(dx) * shot_len, abs(dy) * shot_len
            tex = _texture(rng, height + span_y + 8, width + span_x + 8)
            x0, y0 = (span_x if dx < 0 else 0), (span_y if dy < 0 else 0)
            for i in range(shot_len):
                x, y = x0 + dx * i, y0 + dy * i
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(tex[y:y + height, x:x + width]), "rgb24")
                frame.pts = frame_no
                container.mux(stream.encode(frame))
                frame_no += 1
            if frame_no < total:
                cuts.append(float(Fraction(frame_no) / fps))
        container.mux(stream.encode(None))
    return cuts
