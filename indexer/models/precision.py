"""Numeric precision of the image tower: fp32, bf16 or dynamic int8, and ``auto`` to choose.

The image tower is the main cost of indexing on a CPU. CPUs with native bfloat16 arithmetic
(AVX512-BF16 or AMX: AMD Zen 4 and later, Intel Cooper Lake / Sapphire Rapids and later) run
its matrix products several times faster in bf16 than in fp32 (``benchmarks/bench_index.py``
prints the figures for a machine), while bf16 keeps fp32's exponent range, so CLIP vectors barely
move from fp32's. Elsewhere bf16 is emulated and slower, so ``auto`` picks bf16 only where the
CPU has it natively. ``int8`` quantises the tower's linear layers dynamically (weights int8,
activations fp32): measured with the bf16 probe forced off, it is the faster of the other
choices (fp32 channels_last, int8), so without native bf16 ``auto`` picks int8 wherever torch
has a quantized CPU engine, else fp32. ``REELSEARCH_NATIVE_BF16=0`` (or 1) overrides the CPU
probe. The text tower always stays fp32, so queries are unchanged.

``onnx-int8`` (:mod:`indexer.models.onnx_image`) runs the tower on onnxruntime instead; ``auto``
takes it over the torch choice made here where it was measured faster and agreeing with fp32.
"""

from __future__ import annotations

import copy
import os
import warnings

import torch

from indexer.models.encoder import PRECISIONS
from indexer.errors import EncoderError

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
#: "0"/"1" overrides the native-bfloat16 probe (to measure the other choice, or a CPU it misjudges).
NATIVE_BF16_ENV = "REELSEARCH_NATIVE_BF16"
_INT8_ENGINES = {"x86", "fbgemm", "onednn"}  # quantized CPU backends with fast dynamic int8 linears


def native_bf16() -> bool:
    """True when this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX), unless
    ``REELSEARCH_NATIVE_BF16`` says otherwise."""
    forced = os.environ.get(NATIVE_BF16_ENV, "").strip().lower()
    if forced in ("0", "1", "no", "yes", "false", "true"):
        return forced in ("1", "yes", "true")
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except RuntimeError:  # a torch build without the probe's backend
            continue
    return False


def resolve_precision(requested: str) -> str:
    """``fp32``, ``bf16`` or ``int8`` for a requested precision (``auto``: bf16 where it is native,
    else int8 where torch can quantize, else fp32).

    Raises:
        EncoderError: not one of PRECISIONS.
    """
    if requested not in PRECISIONS:
        raise EncoderError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    if requested == "auto":
        return "bf16" if native_bf16() else "int8" if int8_engine() else "fp32"
    return requested


def int8_engine() -> bool:
    """True when this torch build has a quantized CPU engine for dynamic int8 linear layers."""
    return bool(_INT8_ENGINES & set(torch.backends.quantized.supported_engines))


def quantize_int8(module: torch.nn.Module) -> torch.nn.Module:
    """Return a copy of ``module`` with dynamic int8 ``nn.Linear`` layers (weights int8, activations fp32).

    Raises:
        EncoderError: this torch build has no quantized CPU engine.
    """
    from torch.ao.quantization import quantize_dynamic

    try:
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)
    except (RuntimeError, NotImplementedError) as exc:
        raise EncoderError(f"int8 is not available with this torch build ({exc}); use --precision fp32") from exc


def with_precision(visual: torch.nn.Module, precision: str, *, copy_module: bool = False) -> torch.nn.Module:
    """``visual`` in ``precision`` (fp32, bf16 or int8); a copy when ``copy_module``, else converted in place.

    Raises:
        EncoderError: int8 unsupported by this torch build, or an unknown precision.
    """
    if precision == "int8":
        return quantize_int8(visual)  # always a copy
    if precision not in _DTYPES:
        raise EncoderError(f"unknown image precision {precision!r}")
    module = copy.deepcopy(visual) if copy_module else visual
    return module.to(_DTYPES[precision])


def input_dtype(visual: torch.nn.Module) -> torch.dtype:
    """The dtype ``visual`` takes its pixels in: that of its first floating-point parameter."""
    for param in visual.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32
