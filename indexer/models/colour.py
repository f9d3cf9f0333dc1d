"""A deterministic colour encoder for tests and offline demos.

It "sees" only the mean colour of an image and "reads" only colour words, so end-to-end
assertions are meaningful: an index of coloured scenes answers "red" with the red scene.
Use it with ``--encoder indexer.models.colour:ColourEncoder``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from indexer.models.encoder import l2_normalize

#: Named colours the encoder understands (RGB in 0..255).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
    "yellow": (230, 220, 30),
    "cyan": (30, 210, 220),
    "magenta": (210, 30, 210),
    "white": (245, 245, 245),
    "black": (10, 10, 10),
    "orange": (240, 140, 20),
    "purple": (110, 30, 160),
    "gray": (128, 128, 128),
}
_ANCHORS = np.array(list(COLOURS.values()), dtype=np.float32)
_SIGMA = 45.0  # colour distance (0..255 RGB units) at which similarity falls off


class ColourEncoder:
    """Deterministic fake CLIP: mean colour -> vector; colour words -> the same vectors."""

    name = "fake:colour-v1"
    image_size = 32

    def __init__(self, dim: int = 32) -> None:
        if dim < len(COLOURS) + 4:
            raise ValueError(f"dim must be at least {len(COLOURS) + 4}")
        self.dim = dim

    def _embed_rgb(self, rgb: np.ndarray) -> np.ndarray:
        d2 = ((rgb[:, None, :] - _ANCHORS[None, :, :]) ** 2).sum(-1)
        sim = np.exp(-d2 / (2 * _SIGMA**2))
        out = np.zeros((rgb.shape[0], self.dim), dtype=np.float32)
        out[:, : len(COLOURS)] = sim
        out[:, len(COLOURS)] = 0.05  # tiny shared component: every image is "an image"
        return l2_normalize(out)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Embed (N, S, S, 3) uint8 RGB images by their mean colour."""
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"images must have shape (N, S, S, 3), got {arr.shape}")
        return self._embed_rgb(arr.reshape(arr.shape[0], -1, 3).mean(axis=1).astype(np.float32))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts: colour words map onto their colour; other words onto a hashed direction."""
        rows = []
        for text in texts:
            words = re.findall(r"[a-z]+", text.lower())
            colours = [COLOURS[w] for w in words if w in COLOURS]
            if colours:
                rows.append(self._embed_rgb(np.array(colours, dtype=np.float32)).mean(axis=0))
            else:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
                vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
                vec[: len(COLOURS) + 1] = 0.0  # orthogonal to every image: unrelated
                rows.append(vec)
        return l2_normalize(np.array(rows, dtype=np.float32).reshape(len(rows), self.dim))
