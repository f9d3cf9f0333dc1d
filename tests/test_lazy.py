"""Tests for indexer.models.lazy: a recorded open_clip encoder loads only what is used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import EncoderError
from indexer.models.clip_encoder import OpenClipEncoder
from indexer.models.loading import choose_encoder, encoder_spec, load_from_spec
from indexer.models.lazy import LazyClipEncoder

TEXTS = ["a dog", "a red car driving on a mountain road at night"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    state = OpenClipEncoder.tiny()._model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def full(weights: Path) -> OpenClipEncoder:
    return OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=weights, threads=1, precision="fp32")


def test_recorded_encoder_loads_nothing_until_used(full: OpenClipEncoder) -> None:
    lazy = load_from_spec(encoder_spec(full))
    assert isinstance(lazy, LazyClipEncoder) and lazy.loaded == "nothing"
    assert (lazy.name, lazy.dim, lazy.image_size) == (full.name, full.dim, full.image_size)
    assert lazy.loaded == "nothing"


def test_texts_need_the_text_tower_only(full: OpenClipEncoder) -> None:
    lazy = load_from_spec(encoder_spec(full))
    np.testing.assert_allclose(lazy.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)
    assert lazy.loaded == "text tower"
    images = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(lazy.encode_images(images), full.encode_images(images), atol=1e-6)
    assert lazy.loaded == "full model"
    np.testing.assert_allclose(lazy.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)


def test_a_record_without_text_tower_loads_the_model() -> None:
    tiny = OpenClipEncoder.tiny()
    lazy = load_from_spec(encoder_spec(tiny))  # random init: the tower alone cannot be rebuilt
    np.testing.assert_allclose(lazy.encode_texts(TEXTS), tiny.encode_texts(TEXTS), atol=1e-6)
    assert lazy.loaded == "full model"


def test_replaced_weights_are_noticed(full: OpenClipEncoder, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    other = OpenClipEncoder.tiny(seed=4)._model.state_dict()
    path = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.items()}, str(path))
    lazy = LazyClipEncoder(encoder_spec(full), weights=path)
    with pytest.raises(EncoderError, match="the index was built with encoder"):
        lazy.encode_texts(TEXTS)  # the tower alone refuses them, the full model names them


def test_options_naming_the_recorded_encoder_load_it_lazily(full: OpenClipEncoder, weights: Path) -> None:
    spec = encoder_spec(full)
    same = choose_encoder(spec, {"model": "reelsearch-tiny", "weights": weights, "pretrained": None,
                                 "plugin": None, "precision": None})
    assert isinstance(same, LazyClipEncoder) and same.loaded == "nothing"
    other = choose_encoder(spec, {"model": "reelsearch-tiny", "weights": None, "pretrained": "",
                                  "plugin": None, "precision": None})
    assert isinstance(other, OpenClipEncoder)  # random init asked for: not the recorded file, loaded now
