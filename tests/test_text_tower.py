"""Tests for indexer.models.text_tower: the CLIP text tower alone equals open_clip's, and loads
neither open_clip nor the image tower."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from indexer.models.clip_encoder import OpenClipEncoder
from indexer.models.text_tower import StandaloneText, text_config

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["a dog", "a red car driving on a mountain road at night", "", "fireworks over a river, photo"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[OpenClipEncoder, Path, Path]:
    """The tiny model loaded from its weights saved as .safetensors, and the same as a torch .pt file."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("weights")
    state = OpenClipEncoder.tiny()._model.state_dict()
    safe, pt = folder / "tiny.safetensors", folder / "tiny.pt"
    save_file({k: v.contiguous() for k, v in state.items()}, str(safe))
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, pt)  # a training checkpoint
    return OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=safe, threads=1), safe, pt


def test_record_describes_a_file_model_only() -> None:
    assert "text_tower" not in OpenClipEncoder.tiny().spec()  # random init: no file to read the tower from


@pytest.mark.parametrize("kind", ["safetensors", "pt"])
def test_tower_alone_equals_open_clip(saved: tuple[OpenClipEncoder, Path, Path], kind: str) -> None:
    encoder, safe, pt = saved
    record = encoder.spec()["text_tower"]
    alone = StandaloneText(record, safe if kind == "safetensors" else pt)
    np.testing.assert_allclose(alone.encode_texts(TEXTS).numpy(), encoder.encode_texts(TEXTS), atol=1e-6)


def test_other_weights_are_refused(saved: tuple[OpenClipEncoder, Path, Path], tmp_path: Path) -> None:
    from safetensors.torch import save_file

    encoder, _safe, _pt = saved
    other = tmp_path / "other.safetensors"
    state = OpenClipEncoder.tiny(seed=5)._model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(other))
    with pytest.raises(ValueError, match="not those the index was built with"):
        StandaloneText(encoder.spec()["text_tower"], other)


@pytest.mark.parametrize("change", [{"ls_init_value": 1e-5}, {"hf_model_name": "bert"}, {"pool_type": "last"},
                                    {"proj_bias": True}, {"embed_cls": True}, {"no_causal_mask": True}])
def test_only_plain_clip_text_configs_are_run_alone(change: dict) -> None:
    plain = {"embed_dim": 512, "text_cfg": {"context_length": 77, "width": 512, "heads": 8, "layers": 12}}
    assert text_config(plain) is not None
    assert text_config({**plain, "text_cfg": {**plain["text_cfg"], **change}}) is None
    assert text_config({**plain, "custom_text": True}) is None


def test_tower_alone_imports_neither_open_clip_nor_torchvision_nor_dynamo(saved: tuple[OpenClipEncoder, Path, Path],
                                                               tmp_path: Path) -> None:
    encoder, safe, _pt = saved
    record = tmp_path / "record.json"
    record.write_text(json.dumps(encoder.spec()["text_tower"]))
    script = (
        "import json, sys\n"
        "from indexer.models.text_tower import StandaloneText\n"
        f"vectors = StandaloneText(json.load(open({str(record)!r}))).encode_texts(['a dog'])\n"
        "print(json.dumps([tuple(vectors.shape), sorted(m for m in ('open_clip', 'torchvision', 'timm', 'torch._dynamo')"
        " if m in sys.modules)]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == [[1, 32], []]
