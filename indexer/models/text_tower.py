"""A standalone CLIP text tower: embed a new query without open_clip or the image tower.

A cold ``reelsearch search`` of a new text needs the text tower only. ``import open_clip``
pulls in torchvision (and through it ``torch._dynamo``) and timm, together more than a bare
``import torch``, and ``open_clip.create_model`` builds and loads the image tower too. This
module runs the standard CLIP text tower (token and position embeddings, pre-norm residual
attention blocks with a causal mask, final LayerNorm, pooling at the end-of-text token,
projection) in plain torch from the text weights of an open_clip checkpoint, and tokenises
with open_clip's own BPE tokenizer module loaded on its own.

It is only used where it is provably the same tower: :func:`text_config` accepts plain CLIP
text configurations only (no Hugging Face tower, layer scale, class token, custom blocks...),
the checkpoint must hold exactly this tower's keys, and :func:`text_fingerprint` of the loaded
weights must equal the one the full encoder recorded when the index was built. Like
``clip_text``, it runs only up to the batch's last end token (the tower is causal).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

#: text_cfg keys whose value this tower takes as given (with open_clip's defaults).
_SHAPE_DEFAULTS = {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12,
                   "mlp_ratio": 4.0}
#: text_cfg keys this tower supports only at these (open_clip's default) values.
_PLAIN = {"ls_init_value": None, "embed_cls": False, "no_causal_mask": False, "final_ln_after_pool": False,
          "pool_type": "argmax", "proj_bias": False, "proj_type": "linear", "output_tokens": False,
          "act_kwargs": None, "norm_kwargs": None, "block_type": None, "qk_norm": False,
          "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False, "scale_attn": False,
          "scale_fc": False, "hf_model_name": None, "hf_tokenizer_name": None, "tokenizer_mode": None,
          "tokenizer_kwargs": None, "pad_id": 0, "eos_id": 2}
_FINGERPRINT_MAX_VALUES = 65536  # as the full encoder's weights fingerprint: small tensors only


def text_config(model_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The text tower's shape from an open_clip model config, or None if it is not a plain CLIP tower."""
    text = model_config.get("text_cfg")
    if not isinstance(text, Mapping) or model_config.get("custom_text"):
        return None
    for key, value in text.items():
        if key not in _SHAPE_DEFAULTS and (key not in _PLAIN or value != _PLAIN[key]):
            return None
    shape = {**_SHAPE_DEFAULTS, **{k: v for k, v in text.items() if k in _SHAPE_DEFAULTS}}
    return {**shape, "embed_dim": int(model_config["embed_dim"])}


def open_clip_file(relative: str) -> Path | None:
    """A file inside the installed open_clip package, found without importing it."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / relative


def model_config(model_name: str) -> dict[str, Any] | None:
    """open_clip's bundled JSON config of ``model_name`` (None if it has none)."""
    path = open_clip_file(f"model_configs/{model_name}.json")
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text())


def tokenizer_module() -> ModuleType:
    """open_clip's tokenizer module (stdlib, ftfy, regex, torch): the package's own if it is
    imported already, else the same file loaded alone (``import open_clip`` would cost seconds)."""
    loaded = sys.modules.get("open_clip.tokenizer")
    if loaded is not None:
        return loaded
    name = "reelsearch_open_clip_tokenizer"
    if name not in sys.modules:
        path = open_clip_file("tokenizer.py")
        if path is None or not path.is_file():
            raise ImportError("open_clip is not installed")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


class TextTower:
    """The CLIP text tower alone, as functions over its weights; ``encode(tokens)`` gives
    unnormalised fp32 features.

    Plain tensors and ``torch.nn.functional``, no ``nn.Module``: building modules runs their
    random initialisation (even on the meta device, which imports torch._dynamo: seconds).
    """

    def __init__(self, config: Mapping[str, Any], state: Mapping[str, torch.Tensor], quick_gelu: bool) -> None:
        """Adopt ``state``'s tensors (as fp32). Raises KeyError if one of :func:`tower_keys` is missing,
        ValueError if a shape does not fit ``config``."""
        self.width, self.heads = int(config["width"]), int(config["heads"])
        self.layers, self.quick_gelu = int(config["layers"]), quick_gelu
        self.weights = {key: state[key].float() for key in tower_keys(config)}
        expected = {"token_embedding.weight": (int(config["vocab_size"]), self.width),
                    "positional_embedding": (int(config["context_length"]), self.width),
                    "text_projection": (self.width, int(config["embed_dim"])),
                    "transformer.resblocks.0.attn.in_proj_weight": (3 * self.width, self.width)}
        for key, shape in expected.items():
            if tuple(self.weights[key].shape) != shape:
                raise ValueError(f"{key} has shape {tuple(self.weights[key].shape)}, expected {shape}")

    @property
    def dim(self) -> int:
        return int(self.weights["text_projection"].shape[1])

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Features of (B, context) token ids, run only up to the last end-of-text token."""
        w = self.weights
        ends = tokens.argmax(dim=-1)  # the end token has the highest id (open_clip's argmax pooling)
        length = int(ends.max()) + 1
        x = F.embedding(tokens[:, :length], w["token_embedding.weight"]) + w["positional_embedding"][:length]
        mask = torch.full((length, length), float("-inf")).triu_(1)
        for i in range(self.layers):
            x = self._block(x, f"transformer.resblocks.{i}.", mask)
        x = F.layer_norm(x, (self.width,), w["ln_final.weight"], w["ln_final.bias"])
        return x[torch.arange(x.shape[0]), ends] @ w["text_projection"]

    def _block(self, x: torch.Tensor, prefix: str, mask: torch.Tensor) -> torch.Tensor:
        """x + attention(ln_1 x), then + mlp(ln_2 x): open_clip's ResidualAttentionBlock."""
        w, (batch, length, width) = self.weights, x.shape
        h = F.layer_norm(x, (width,), w[prefix + "ln_1.weight"], w[prefix + "ln_1.bias"])
        q, k, v = F.linear(h, w[prefix + "attn.in_proj_weight"], w[prefix + "attn.in_proj_bias"]).chunk(3, dim=-1)
        q, k, v = (t.reshape(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(batch, length, width)
        x = x + F.linear(h, w[prefix + "attn.out_proj.weight"], w[prefix + "attn.out_proj.bias"])
        h = F.layer_norm(x, (width,), w[prefix + "ln_2.weight"], w[prefix + "ln_2.bias"])
        h = F.linear(h, w[prefix + "mlp.c_fc.weight"], w[prefix + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h) if self.quick_gelu else F.gelu(h)
        return x + F.linear(h, w[prefix + "mlp.c_proj.weight"], w[prefix + "mlp.c_proj.bias"])


def text_fingerprint(state: Mapping[str, torch.Tensor], keys: list[str]) -> str:
    """12 hex digits naming the text weights: their small tensors (norms, biases, positions), by key."""
    digest = hashlib.sha256()
    for key in sorted(keys):
        tensor = state[key]
        if tensor.numel() <= _FINGERPRINT_MAX_VALUES:
            digest.update(key.encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


_BLOCK_KEYS = ("ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
               "attn.out_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
               "mlp.c_proj.weight", "mlp.c_proj.bias")


def tower_keys(config: Mapping[str, Any]) -> list[str]:
    """The open_clip state-dict keys of the text tower of ``config``."""
    blocks = [f"transformer.resblocks.{i}.{key}" for i in range(int(config["layers"])) for key in _BLOCK_KEYS]
    return ["token_embedding.weight", "positional_embedding", *blocks, "ln_final.weight", "ln_final.bias",
            "text_projection"]


def read_text_weights(path: Path, keys: list[str]) -> dict[str, torch.Tensor]:
    """The tensors ``keys`` of an open_clip checkpoint file (.safetensors read key by key).

    Raises:
        KeyError: the checkpoint lacks one of ``keys``.
        OSError / RuntimeError: unreadable file.
    """
    if path.suffix == ".safetensors":
        from safetensors import safe_open  # noqa: PLC0415

        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in keys}
    checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    if next(iter(checkpoint), "").startswith("module."):
        checkpoint = {k[7:]: v for k, v in checkpoint.items()}
    return {key: checkpoint[key] for key in keys}


def tower_record(model: torch.nn.Module, config: Mapping[str, Any], checkpoint: Path | None,
                 quick_gelu: bool) -> dict[str, Any] | None:
    """What :class:`StandaloneText` needs to run ``model``'s text tower alone, or None when it cannot.

    ``model`` is a loaded open_clip CLIP model, ``config`` its model config, ``checkpoint`` the file
    its weights came from (None: random init, which a tower alone cannot reproduce), ``quick_gelu``
    whether its text blocks use QuickGELU.
    """
    shape = text_config(config)
    if shape is None or checkpoint is None:
        return None
    state = model.state_dict()
    keys = tower_keys(shape)
    if not all(key in state for key in keys):
        return None
    return {"config": shape, "fingerprint": text_fingerprint(state, keys), "checkpoint": str(checkpoint),
            "quick_gelu": quick_gelu}


class StandaloneText:
    """open_clip's tokenizer and a :class:`TextTower` for a recorded tower: ``encode_texts`` as the encoder's.

    Raises (construction):
        ValueError: the checkpoint's text weights are not the recorded ones (other fingerprint).
        KeyError / OSError / RuntimeError / ImportError: unreadable checkpoint, missing tensors, no open_clip.
    """

    def __init__(self, record: Mapping[str, Any], checkpoint: Path | None = None, batch_size: int = 32) -> None:
        config = record["config"]
        path = Path(checkpoint or record["checkpoint"])
        keys = tower_keys(config)
        state = read_text_weights(path, keys)
        if text_fingerprint(state, keys) != record["fingerprint"]:
            raise ValueError(f"the text weights in {path} are not those the index was built with")
        self.tower = TextTower(config, state, bool(record.get("quick_gelu")))
        self.tokenize = tokenizer_module().SimpleTokenizer(context_length=int(config["context_length"]))
        self.batch_size = batch_size

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """(N, dim) L2-normalised float32 features; batches grouped by length (shorter runs)."""
        tokens = self.tokenize(texts)
        order = torch.argsort(tokens.argmax(dim=-1), descending=True)
        out = torch.empty((len(texts), self.tower.dim), dtype=torch.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                out[idx] = self.tower.encode(tokens[idx])
        return F.normalize(out, dim=-1)
