"""Tests for indexer.models.loading (and the Encoder protocol): plugin loading, protocol validation, spec round trips (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.models.encoder import Encoder

from indexer.models.loading import (choose_encoder, encoder_spec, load_encoder, load_from_spec, load_plugin,
                                    local_checkpoint, store_encoder)
from indexer.errors import EncoderError, EncoderMismatchError, StoreError
from indexer.store import Store
from indexer.models.colour import ColourEncoder

REPO = Path(__file__).resolve().parents[1]


def make_colour_encoder() -> ColourEncoder:
    """A factory function plugin."""
    return ColourEncoder(dim=24)


#: An instance plugin.
INSTANCE = ColourEncoder(dim=20)


class Holder:
    """Dotted attribute access: ``test_encoder:Holder.encoder``."""

    encoder = ColourEncoder()


class NoTexts:
    """Looks like an encoder but cannot embed text."""

    name = "broken"
    dim = 8
    image_size = 32

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return np.zeros((len(images), 8), dtype=np.float32)


class BadValues(NoTexts):
    """Has every member, but with unusable values."""

    name = ""
    dim = 0

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 8), dtype=np.float32)


def failing_factory() -> ColourEncoder:
    """A factory that cannot build its encoder."""
    raise RuntimeError("model server down")


def test_importing_encoder_does_not_import_torch() -> None:
    code = "import sys, indexer.models.encoder, indexer.models.colour; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("spec", "dim"),
    [
        ("indexer.models.colour:ColourEncoder", 32),
        ("test_loading:make_colour_encoder", 24),
        ("test_loading:INSTANCE", 20),
        ("test_loading:Holder.encoder", 32),
    ],
)
def test_plugin_forms_load(spec: str, dim: int) -> None:
    encoder = load_encoder(plugin=spec)
    assert isinstance(encoder, Encoder)
    assert encoder.dim == dim
    vectors = encoder.encode_texts(["red"])
    assert vectors.shape == (1, dim) and np.isclose(np.linalg.norm(vectors), 1.0)


def test_legacy_module_names_still_load() -> None:
    """Specs from before the indexer's packages (README of old, stores' records) keep loading."""
    colour = load_plugin("indexer.fake_encoder:ColourEncoder")
    assert isinstance(colour, ColourEncoder)
    assert encoder_spec(colour)["plugin"] == "indexer.fake_encoder:ColourEncoder"  # recorded as given
    recorded = {"kind": "plugin", "plugin": "indexer.clip_encoder:OpenClipEncoder.tiny"}
    tiny = load_plugin(recorded["plugin"])
    assert type(tiny).__module__ == "indexer.models.clip_encoder"


def test_instance_plugin_is_the_instance_itself() -> None:
    assert load_plugin("test_loading:INSTANCE") is INSTANCE


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("indexer.models.colour", "module:attr"),
        (":ColourEncoder", "module:attr"),
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("indexer.models.colour:Nope", "has no attribute 'Nope'"),
        ("test_loading:NoTexts", "missing encode_texts()"),
        ("test_loading:BadValues", "name (a non-empty str), dim (a positive int)"),
        ("test_loading:failing_factory", "model server down"),
        ("json:dumps", "calling dumps() failed"),
    ],
)
def test_bad_plugin_specs_raise_one_line(spec: str, expected: str) -> None:
    with pytest.raises(EncoderError) as info:
        load_encoder(plugin=spec)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_plugin_cannot_be_combined_with_model_options() -> None:
    with pytest.raises(EncoderError, match="cannot be combined"):
        load_encoder(plugin="indexer.models.colour:ColourEncoder", model="ViT-B-32")


def test_other_model_needs_weights_choice() -> None:
    with pytest.raises(EncoderError, match="--pretrained TAG or --weights FILE"):
        load_encoder(model="ViT-L-14")


def test_plugin_spec_round_trip_is_json() -> None:
    encoder = load_encoder(plugin="test_loading:make_colour_encoder")
    spec = json.loads(json.dumps(encoder_spec(encoder)))
    assert spec == {"kind": "plugin", "plugin": "test_loading:make_colour_encoder", "name": encoder.name, "dim": 24}
    again = load_from_spec(spec)
    assert again.name == encoder.name and again.dim == 24
    np.testing.assert_array_equal(again.encode_texts(["blue"]), encoder.encode_texts(["blue"]))


def test_choose_encoder_follows_the_recorded_spec_unless_told_otherwise() -> None:
    recorded = encoder_spec(load_encoder(plugin="test_loading:make_colour_encoder"))
    choice = {"model": None, "pretrained": None, "weights": None, "plugin": None, "precision": None}
    assert choose_encoder(recorded, choice).dim == 24  # the store's own encoder
    other = choose_encoder(recorded, {**choice, "plugin": "indexer.models.colour:ColourEncoder"})
    assert isinstance(other, ColourEncoder) and other.dim != 24  # named options win
    assert isinstance(choose_encoder(None, {**choice, "plugin": "indexer.models.colour:ColourEncoder"}), ColourEncoder)
    with pytest.raises(EncoderError, match="--precision applies to open_clip encoders; this index uses"):
        choose_encoder(recorded, {**choice, "precision": "int8"})


def test_spec_of_directly_built_encoder_uses_its_class() -> None:
    spec = encoder_spec(ColourEncoder())
    assert spec["plugin"] == "indexer.models.colour:ColourEncoder"
    assert load_from_spec(spec).name == ColourEncoder.name


def test_spec_of_unimportable_encoder_is_refused() -> None:
    class Local(ColourEncoder):
        pass

    with pytest.raises(EncoderError, match="--encoder module:attr"):
        encoder_spec(Local())


@pytest.mark.parametrize("spec", [{}, {"kind": "magic"}, {"kind": "plugin"}, {"kind": "open_clip"}, "text"])
def test_malformed_spec_is_refused(spec: object) -> None:
    with pytest.raises(EncoderError, match="unknown encoder record"):
        load_from_spec(spec)  # type: ignore[arg-type]


def test_spec_with_other_name_or_dim_is_refused() -> None:
    spec = encoder_spec(ColourEncoder())
    for change in ({"name": "fake:colour-v0"}, {"dim": 64}):
        with pytest.raises(EncoderError, match="the index was built with encoder"):
            load_from_spec({**spec, **change})


class OtherColour(ColourEncoder):
    """Another encoder (another name) for the mismatch checks."""

    name = "fake:other-colour"


def test_store_encoder_binds_for_writers_and_checks_for_readers(tmp_path: Path) -> None:
    plugin = {"plugin": "indexer.models.colour:ColourEncoder"}
    with Store.open(tmp_path / "index") as store:
        with pytest.raises(StoreError, match="nothing is indexed"):
            store_encoder(store, plugin, bind=False)
        bound = store_encoder(store, plugin)
        assert store.encoder_spec()["name"] == bound.name
        assert store_encoder(store, None, bind=False).name == bound.name  # the recorded one
        assert store_encoder(store, ColourEncoder(), bind=False).name == bound.name
        with pytest.raises(EncoderMismatchError):
            store_encoder(store, {"plugin": f"{__name__}:OtherColour"}, bind=False)
        with pytest.raises(EncoderMismatchError):
            store_encoder(store, {"plugin": f"{__name__}:OtherColour"})


def test_pretrained_naming_a_checkpoint_file_is_the_weights_file(tmp_path: Path, monkeypatch) -> None:
    checkpoint = tmp_path / "vit.safetensors"
    checkpoint.write_bytes(b"weights")
    assert local_checkpoint(str(checkpoint), None) == (None, checkpoint)
    assert local_checkpoint("laion2b_s34b_b79k", None) == ("laion2b_s34b_b79k", None)  # a tag
    assert local_checkpoint(str(tmp_path / "gone.safetensors"), None) == (str(tmp_path / "gone.safetensors"), None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "openai").write_bytes(b"not a checkpoint")
    assert local_checkpoint("openai", None) == ("openai", None)  # a bare name stays a tag, as in open_clip
    assert local_checkpoint("vit.safetensors", None) == (None, Path("vit.safetensors"))
    with pytest.raises(EncoderError, match="pass one of them"):
        local_checkpoint(str(checkpoint), tmp_path / "other.safetensors")
