"""open_clip implementation of the ``Encoder`` protocol (default: ViT-B-32, laion2b_s34b_b79k).

Images arrive already resized and cropped by the sampler, so preprocessing is a few tensor ops
(uint8 -> float, mean/std of the weights, channels_last), batched under ``torch.inference_mode``.
Texts take the causal fast path of ``clip_text``; repeated texts come from a bounded LRU cache.
Weights are found by ``clip_weights`` (cache, download or file; one ``EncoderError`` line when
offline) and the ``name`` is content-addressed (``open_clip:<model>:<fingerprint of the weights>``),
so the same weights give the same name however they arrived. ``precision`` sets the image
tower's arithmetic (``precision``: ``auto`` is bf16 on CPUs with native bfloat16, else int8
or fp32, or the onnxruntime int8 tower of ``onnx_image`` where that was measured faster here). The text tower stays fp32, so queries are unchanged. bf16 and int8
image vectors approximate the fp32 ones (cosine 0.9999 on a randomly initialised ViT-B-32; check
real weights on real frames with ``agreement``) far more closely than neighbouring frames
differ, so every precision keeps the fp32 name: their vectors may share a store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from open_clip.transformer import QuickGELU

# CausalTextTower and resolve_checkpoint are also imported from here by callers and tests.
from indexer.models.precision import input_dtype, resolve_precision, with_precision
from indexer.models.clip_text import CausalTextTower
from indexer.models.text_tower import tower_record
from indexer.models.weights import (TINY_MODEL, create_model, register_tiny_model, resolve_checkpoint,
                           weights_fingerprint)
from indexer.models.encoder import l2_normalize
from indexer.errors import EncoderError

log = logging.getLogger(__name__)

_interop_configured = False


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads (``threads``, else ``OMP_NUM_THREADS``, else usable CPUs).

    Inter-op threads are set to 1 once per process (torch only allows it before first use).
    Returns the number of intra-op threads now in use.
    """
    global _interop_configured
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "").strip()
        if env.isdigit() and int(env) > 0:
            threads = int(env)
        else:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(threads)
    if not _interop_configured:
        _interop_configured = True
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # inter-op pool already started: keep torch's choice
            log.debug("torch inter-op threads already fixed at %d", torch.get_num_interop_threads())
    return threads


class OpenClipEncoder:
    """An open_clip CLIP model behind the ``Encoder`` protocol.

    Attributes:
        name: ``open_clip:<model>:<weights fingerprint>`` (+ ``+quickgelu`` when forced by the tag).
        dim: embedding dimension.
        image_size: side S of the (N, S, S, 3) uint8 RGB images ``encode_images`` takes.
        description: human-readable model, weights source and precision.
    """

    def __init__(
        self,
        model_name: str,
        *,
        pretrained: str | None,
        weights: Path | str | None = None,
        precision: str = "auto",
        batch_size: int = 32,
        channels_last: bool = True,
        threads: int | None = None,
        fast_text: bool = True,
        seed: int = 0,
    ) -> None:
        """Load the model (``pretrained`` tag and/or ``weights`` file; neither = random init from ``seed``).

        Raises:
            EncoderError: unknown model or tag, weights unavailable (one line saying how to get them),
                a weights file that does not fit the model, an unknown precision, or int8 unsupported.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        image_precision = resolve_precision("auto" if precision == "onnx-int8" else precision)
        threads = configure_threads(threads)
        if model_name == TINY_MODEL:
            register_tiny_model()
        ckpt = resolve_checkpoint(model_name, pretrained, Path(weights) if weights else None)
        self._model = create_model(model_name, ckpt, seed)
        self.model_name, self.pretrained, self.seed = model_name, pretrained, seed
        self.precision, self.image_precision = precision, image_precision  # as asked, as resolved
        self.weights = ckpt.path if weights else None
        self._checkpoint = ckpt.path  # the file the weights came from (None: random init)
        self.batch_size, self.channels_last = batch_size, channels_last
        self.dim = int(open_clip.get_model_config(model_name)["embed_dim"])
        self.image_size = _square_size(self._model.visual.image_size)
        self.name = self._make_name()
        cfg = self._model.visual.preprocess_cfg
        std = torch.tensor(cfg["std"], dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = 1.0 / (255.0 * std)
        self._shift = torch.tensor(cfg["mean"], dtype=torch.float32).view(1, 3, 1, 1) / std
        tower = self._onnx_tower(image_precision, threads, forced=precision == "onnx-int8") \
            if precision in ("auto", "onnx-int8") else None
        if tower is not None:  # the torch image tower is dropped: onnxruntime runs it
            self._model.visual = tower
            self.image_precision = image_precision = "onnx-int8"
        elif image_precision != "fp32":  # the fp32 image tower is dropped: it is not needed any more
            self._model.visual = with_precision(self._model.visual, image_precision)
        if channels_last and tower is None:
            self._model.visual = self._model.visual.to(memory_format=torch.channels_last)
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self._text = CausalTextTower.find(self._model) if fast_text else None
        self.description = f"open_clip {model_name} {ckpt.source}, image tower {image_precision}"
        log.info("loaded %s as %s", self.description, self.name)

    def _onnx_tower(self, torch_precision: str, threads: int, forced: bool) -> torch.nn.Module | None:
        """The image tower on onnxruntime in int8 where :mod:`indexer.models.onnx_image` found it
        faster here than torch in ``torch_precision`` and agreeing with fp32 (always when
        ``forced``); None: keep the torch tower.

        Raises:
            EncoderError: ``forced`` and it cannot be made here.
        """
        from indexer.models import onnx_image

        found = None
        if forced or onnx_image.available():
            found = onnx_image.cached(self.name)
            if found is None:
                against = self._model.visual if torch_precision == "fp32" else with_precision(
                    self._model.visual, torch_precision, copy_module=True)
                pixels = self._preprocess(onnx_image.check_images(onnx_image.CHECK_IMAGES, self.image_size))
                found = onnx_image.onnx_tower(self._model.visual, self.name, pixels.contiguous(), against,
                                              torch_precision, threads)
        if found is None:
            if forced:
                raise EncoderError("the onnxruntime image tower cannot be made here (it needs onnxruntime and "
                                   "onnx, pip install 'reelsearch[words]'; the log says more); use --precision auto")
            return None
        path, verdict = found
        if not (verdict.used or forced):
            return None
        return onnx_image.OnnxTower(path, threads)

    @classmethod
    def tiny(cls, **kwargs: Any) -> OpenClipEncoder:
        """A tiny randomly initialised open_clip model (64 px, dim 32) for tests: never downloads.

        fp32 unless ``precision`` is given, so its vectors do not depend on the CPU.
        """
        kwargs.setdefault("threads", 1)
        kwargs.setdefault("precision", "fp32")
        return cls(TINY_MODEL, pretrained=None, **kwargs)

    @classmethod
    def from_spec(cls, spec: dict[str, Any], *, weights: Path | None = None) -> OpenClipEncoder:
        """Rebuild an encoder from ``spec()`` output; ``weights`` overrides the recorded file.

        Raises:
            EncoderError: as ``__init__``.
        """
        recorded = spec.get("weights")
        if weights is None and recorded and Path(recorded).is_file():
            weights = Path(recorded)
        if weights is None and recorded and not spec.get("pretrained"):
            raise EncoderError(
                f"the index was built with weights file {recorded}, which is not here; "
                "pass a copy with --weights FILE or REELSEARCH_WEIGHTS=FILE"
            )
        return cls(
            spec["model"], pretrained=spec.get("pretrained"), weights=weights,
            precision=str(spec.get("precision") or ("int8" if spec.get("int8") else "auto")),
            batch_size=int(spec.get("batch_size", 32)), seed=int(spec.get("seed", 0)),
        )

    def spec(self) -> dict[str, Any]:
        """JSON-able description from which ``from_spec`` rebuilds this encoder."""
        spec: dict[str, Any] = {
            "kind": "open_clip", "name": self.name, "dim": self.dim, "model": self.model_name,
            "pretrained": self.pretrained, "weights": str(self.weights) if self.weights else None,
            "precision": self.precision, "batch_size": self.batch_size,
        }
        if not self.pretrained and not self.weights:
            spec["seed"] = self.seed
        spec["image_size"] = self.image_size
        quick = any(isinstance(m, QuickGELU) for m in self._model.transformer.modules())
        record = tower_record(self._model, open_clip.get_model_config(self.model_name), self._checkpoint, quick)
        if record is not None and self._text is not None:  # the text tower alone serves new queries
            spec["text_tower"] = record
        return spec

    def _make_name(self) -> str:
        name = f"open_clip:{self.model_name}:{weights_fingerprint(self._model)}"
        quick = any(isinstance(m, QuickGELU) for m in self._model.modules())
        return name + "+quickgelu" if quick and "quickgelu" not in self.model_name.lower() else name

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Embed (N, S, S, 3) uint8 RGB images; returns float32 (N, dim) L2-normalised rows.

        Raises:
            ValueError: wrong shape or dtype.
        """
        return self._encode_with(self._model.visual, images)

    def _encode_with(self, visual: torch.nn.Module, images: np.ndarray) -> np.ndarray:
        arr = np.asarray(images)
        size = self.image_size
        if arr.ndim != 4 or arr.shape[1:] != (size, size, 3) or arr.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, {size}, {size}, 3), got {arr.dtype} {arr.shape}")
        out = np.empty((arr.shape[0], self.dim), dtype=np.float32)
        dtype = input_dtype(visual)
        with torch.inference_mode():
            for start in range(0, arr.shape[0], self.batch_size):
                batch = self._preprocess(arr[start : start + self.batch_size]).to(dtype)
                out[start : start + len(batch)] = visual(batch).float().numpy()
        return l2_normalize(out)

    def _preprocess(self, batch: np.ndarray) -> torch.Tensor:
        # NHWC uint8 viewed as NCHW has channels_last strides already; float() and the affine keep them.
        batch = np.ascontiguousarray(batch)
        if not batch.flags.writeable:  # torch warns on read-only buffers; the copy is one frame batch
            batch = batch.copy()
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
        x = x.mul_(self._scale).sub_(self._shift)
        return x if self.channels_last else x.contiguous()

    def agreement(self, images: np.ndarray, precision: str) -> tuple[float, float]:
        """Mean and minimum cosine between this fp32 encoder's vectors and a ``precision`` copy's on ``images``.

        Raises:
            ValueError: this encoder's image tower is not fp32 (no reference), or bad images.
            EncoderError: unknown or unsupported precision.
        """
        if self.image_precision != "fp32":
            raise ValueError("agreement needs an fp32 encoder as reference (precision='fp32')")
        reference = self.encode_images(images)
        other = with_precision(self._model.visual, resolve_precision(precision), copy_module=True)
        cosines = (reference * self._encode_with(other, images)).sum(axis=1)
        return float(cosines.mean()), float(cosines.min())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 (N, dim) L2-normalised rows (each distinct text embedded once;
        callers cache through ``Store.cached_texts``).

        Raises:
            TypeError: an item is not a string.
        """
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("encode_texts takes a sequence of str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        found = dict(zip(unique, self._embed_texts(unique)))
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(texts)
        # Sort by end-token position so each batch is truncated to similar lengths.
        ends = self._text.ends(tokens) if self._text else torch.zeros(len(texts), dtype=torch.long)
        order = torch.argsort(ends, descending=True)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                out[idx.numpy()] = self._encode_tokens(tokens[idx]).float().numpy()
        return l2_normalize(out)

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if self._text is None:
            return self._model.encode_text(tokens)
        if self._text.verified:
            return self._text.encode(tokens)
        full = self._model.encode_text(tokens)
        if not self._text.verify(tokens, full):
            self._text = None
        return full

    @property
    def fast_text(self) -> bool:
        """True while texts are encoded only up to the longest end token (False after a failed check)."""
        return self._text is not None

    def __repr__(self) -> str:
        return f"OpenClipEncoder({self.description!r}, name={self.name!r})"


def _square_size(size: int | Sequence[int]) -> int:
    if isinstance(size, int):
        return size
    if len(size) == 2 and size[0] == size[1]:
        return int(size[0])
    raise EncoderError(f"only square image models are supported, this one takes {tuple(size)}")
