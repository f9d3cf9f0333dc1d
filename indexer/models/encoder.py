"""The ``Encoder`` protocol: what reelsearch needs from an image/text embedding model.

Any object with these members can be plugged in with ``--encoder module:attr``
(:mod:`indexer.models.loading` loads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np



@runtime_checkable
class Encoder(Protocol):
    """An embedding model that maps images and texts into one space.

    Attributes:
        name: stable identifier recorded in the store (vectors of two names never mix).
        dim: embedding dimension.
        image_size: side S of the square RGB input ``encode_images`` expects.
    """

    name: str
    dim: int
    image_size: int

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Embed a batch of images.

        Args:
            images: uint8 RGB array of shape (N, S, S, 3), S == ``image_size``.

        Returns:
            float32 array (N, dim), each row L2-normalised.
        """
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 (N, dim), each row L2-normalised."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` as float32 with every row scaled to unit length (zero rows stay 0)."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


#: Arithmetic of an open_clip image tower (see :mod:`indexer.models.precision`).
PRECISIONS = ("auto", "fp32", "bf16", "int8", "onnx-int8")
