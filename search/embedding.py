"""Turning query inputs into vectors: cached text embeddings and image files.

Text embeddings go through the one text cache, :class:`indexer.store.text_vectors.CachedTextEncoder`
(:func:`cached_texts`), so a repeated query (or a repeated term of a new query) is not embedded
again. :func:`load_image` reads an image file the way the
indexer prepares frames: short side resized to the encoder's input size, centre crop, RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from indexer.models.encoder import Encoder, l2_normalize
from indexer.store.text_vectors import CachedTextEncoder
from indexer.errors import QueryError

def cached_texts(encoder: Encoder) -> CachedTextEncoder:
    """``encoder`` behind the text cache: as it is when it already is a store's cache
    (``Store.cached_texts``), else behind an in-process LRU only."""
    return encoder if isinstance(encoder, CachedTextEncoder) else CachedTextEncoder(None, encoder)


def load_image(path: Path, size: int) -> np.ndarray:
    """Read an image file as a (size, size, 3) uint8 RGB array (short side resize, centre crop).

    Raises:
        QueryError: the file is missing, unreadable or not an image (the message names it).
    """
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 (only image queries need PIL)

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise QueryError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = "not an image PIL can read" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise QueryError(f"{path}: cannot read the image ({reason})") from None
    return square_image(rgb, size)


def square_image(image: Any, size: int) -> np.ndarray:
    """A PIL image as a (size, size, 3) uint8 RGB array: short side to ``size``, centre crop."""
    from PIL import Image  # noqa: PLC0415

    rgb = image.convert("RGB")
    width, height = rgb.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    rgb = rgb.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(rgb.crop((left, top, left + size, top + size)), dtype=np.uint8)


def encode_image(encoder: Encoder, image: Any) -> np.ndarray:
    """The unit embedding (dim,) of an image: a file path, a PIL image, or an RGB uint8 array
    of shape (H, W, 3).

    Raises:
        QueryError: the image cannot be read (see :func:`load_image`) or has the wrong shape.
    """
    if isinstance(image, (str, Path)):
        pixels = load_image(Path(image), encoder.image_size)
    elif isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise QueryError(f"an image array must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        from PIL import Image  # noqa: PLC0415

        pixels = square_image(Image.fromarray(image), encoder.image_size)
    elif hasattr(image, "convert") and hasattr(image, "size"):
        pixels = square_image(image, encoder.image_size)
    else:
        raise QueryError(f"cannot use a {type(image).__name__} as an image query")
    vector = np.asarray(encoder.encode_images(pixels[None]), dtype=np.float32)
    return l2_normalize(vector)[0]
