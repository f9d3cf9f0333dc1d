"""Query embedding helpers (search.embedding): image files and arrays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from indexer.errors import QueryError
from search.embedding import encode_image, load_image


def test_load_image_resizes_short_side_and_centre_crops(tmp_path):
    img = np.zeros((40, 100, 3), np.uint8)
    img[:, 40:60] = (255, 0, 0)  # a red band in the middle survives the centre crop
    path = tmp_path / "wide.png"
    Image.fromarray(img).save(path)
    out = load_image(path, 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert out[8, 8, 0] > 200 and out[8, 0, 0] < 50


def test_encode_image_accepts_arrays_and_refuses_other_things(colour_encoder):
    red = np.full((20, 30, 3), (220, 30, 30), np.uint8)
    vec = encode_image(colour_encoder, red)
    assert vec.shape == (colour_encoder.dim,)
    assert float(vec @ colour_encoder.encode_texts(["red"])[0]) > 0.99
    with pytest.raises(QueryError):
        encode_image(colour_encoder, np.zeros((4, 4), np.uint8))
    with pytest.raises(QueryError):
        encode_image(colour_encoder, 42)
