"""The image tower on onnxruntime in dynamic int8: exported once per weights, used where it is
faster here and agrees with fp32.

onnxruntime runs the CLIP image tower's matrix products in int8 (weights int8 per output
channel, activations quantised per call from their own range: the same arithmetic as torch's
dynamic int8, no calibration data) with the CPU's int8 dot-product instructions. On this
project's 2-core AMD EPYC that is about 1.8x torch's dynamic int8 and 1.4x its native bf16 for
ViT-B-32 (``benchmarks/bench_index.py`` prints the figures for a machine).

:func:`onnx_tower` exports the fp32 tower with ``torch.onnx`` and quantises it on first use
(about 30 s for ViT-B-32; the int8 file is a quarter of the fp32 weights), then measures it on
images drawn here against the fp32 tower (cosine of the vectors: the *agreement*) and against
the torch tower ``auto`` would otherwise use (time per image). The copy is used only where its
agreement is at least :data:`MIN_MEAN` on average and :data:`MIN_WORST` at worst *and* it is
faster; the verdict is kept beside it (in the cache of :mod:`indexer.models.cache`), so later
runs load it at once. ``--precision onnx-int8`` asks for it outright. Without ``onnxruntime``
and ``onnx`` (the ``words`` extra installs both), or where the copy cannot be made, ``auto``
keeps the torch tower and one log line says why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from indexer.models.cache import cache_dir, made_before, make_and_keep, quiet_quantiser
from indexer.models.onnx_session import onnx_session
from indexer.models.precision import input_dtype

log = logging.getLogger(__name__)

#: Bump when the export or quantisation recipe changes (a new copy is made).
RECIPE = 1
#: The int8 tower is used only when its vectors agree with fp32's at least this well.
MIN_MEAN = 0.999
MIN_WORST = 0.995
#: "0" keeps ``auto`` on the torch tower (``--precision onnx-int8`` still asks for this one).
ENV = "REELSEARCH_ONNX_TOWER"
#: Images drawn to check agreement and speed.
CHECK_IMAGES = 16


@dataclass(frozen=True)
class TowerVerdict:
    """How the onnxruntime int8 tower compared here, and whether ``auto`` uses it."""

    mean_cosine: float  # to the fp32 tower's vectors, on the check images
    worst_cosine: float
    onnx_ms: float  # per image, batches of 8
    torch_ms: float  # the torch tower it was measured against
    torch_precision: str
    used: bool


class OnnxTower(torch.nn.Module):
    """An exported image tower run by onnxruntime, called like the torch tower it replaces:
    float32 (N, 3, S, S) pixels in, (N, dim) vectors out.

    A batch is split between ``threads`` runs of one thread each, side by side (onnxruntime runs
    calls to one session in parallel, without the GIL): no run waits for another's threads at
    each operator, as one run in several threads does. For ViT-B-32 on this project's 2-core
    AMD EPYC that is 15.0-16.5 against 16.0-17.4 ms an image at batches of 4 to 32, and 9-16 %
    less time for the frames a real clip encodes (``benchmarks/bench_index.py``, stage b). A lone
    image runs in one thread (29 against 17 ms).
    """

    def __init__(self, path: Path, threads: int) -> None:
        super().__init__()
        self.path = path
        self.runs = max(1, threads)  # runs side by side, of one thread each
        self._session = onnx_session(path, 1)
        self._input = self._session.get_inputs()[0].name
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        batch = np.ascontiguousarray(pixels.float().numpy())
        parts = min(self.runs, len(batch))
        if parts <= 1:
            return torch.from_numpy(self._run(batch))
        chunks = np.array_split(batch, parts)
        futures = [self._workers().submit(self._run, chunk) for chunk in chunks[1:]]
        first = self._run(chunks[0])  # this thread runs a share too
        return torch.from_numpy(np.concatenate([first, *(future.result() for future in futures)]))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: batch})[0]

    def _workers(self) -> ThreadPoolExecutor:
        """The threads of the other runs, started on first use, and again in a forked child
        (which inherits the pool but not its threads: its runs would wait forever)."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.runs - 1, thread_name_prefix="reelsearch-tower")
                self._pool_pid = os.getpid()
            return self._pool


def available() -> bool:
    """Whether onnxruntime and onnx (to export and quantise) are installed, and ``auto`` may use
    them (``REELSEARCH_ONNX_TOWER=0`` keeps the torch tower)."""
    if os.environ.get(ENV, "").strip().lower() in ("0", "no", "false"):
        return False
    try:  # found, not imported: importing onnx takes about a second, and it is needed only to make the copy
        return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))
    except (ImportError, ValueError):  # a module set to None (tests) or broken
        return False


def cached(name: str) -> tuple[Path, TowerVerdict] | None:
    """The int8 tower of the encoder ``name`` and its verdict, if made before (else None)."""
    return made_before(_target(name), TowerVerdict, "the onnxruntime image tower")


def onnx_tower(visual: torch.nn.Module, name: str, pixels: torch.Tensor, against: torch.nn.Module,
               against_precision: str, threads: int) -> tuple[Path, TowerVerdict] | None:
    """The int8 onnxruntime copy of the fp32 tower ``visual`` (of the encoder ``name``) and its
    verdict; made on first use, checked against ``visual`` and timed against ``against`` (the
    torch tower in ``against_precision``) on ``pixels`` (:func:`check_images` as the encoder
    prepares its input). None when it cannot be made here (the log says why)."""
    found = cached(name)
    if found is not None:
        return found
    target = _target(name)
    started = time.perf_counter()
    log.warning("making the onnxruntime int8 image tower for %s, once (20-40 s)", name)

    def make(scratch: Path) -> TowerVerdict:
        _export_int8(visual, pixels[:2], scratch)
        return _check(visual, against, against_precision, OnnxTower(scratch, threads), pixels)

    verdict = make_and_keep(target, make, "its onnxruntime copy", "image tower stays on torch",
                            "pip install onnx onnxruntime")
    if verdict is None:
        return None
    log.info("onnxruntime int8 image tower made in %.0f s: cosine to fp32 %.5f (worst %.5f), %.1f ms an "
             "image against %.1f ms in torch %s (%s)", time.perf_counter() - started, verdict.mean_cosine,
             verdict.worst_cosine, verdict.onnx_ms, verdict.torch_ms, against_precision,
             "used" if verdict.used else "not used")
    return target, verdict


def check_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """(count, size, size, 3) uint8 RGB images with some structure: colour gradients, blocks
    and discs of other colours, fine noise (what a tower's agreement is measured on)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))[..., None]
        image = a + (b - a) * (t - t.min()) / max(float(np.ptp(t)), 1e-6)
        for _ in range(rng.integers(1, 6)):
            cx, cy, r = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.3)]
            inside = ((xx - cx) ** 2 + (yy - cy) ** 2 < r * r) if rng.random() < 0.5 else (
                (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r / 2))
            image[inside] = rng.uniform(0, 255, 3)
        image += rng.normal(0, rng.uniform(0, 12), image.shape)
        images[i] = np.clip(image, 0, 255).astype(np.uint8)
    return images


def _target(name: str) -> Path:
    key = f"{name}:{_ort_version()}:{torch.__version__}:{RECIPE}"
    parts = name.split(":")
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", parts[1] if len(parts) > 2 else "tower")
    return cache_dir() / "clip" / f"{stem}.int8.{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _export_int8(visual: torch.nn.Module, example: torch.Tensor, target: Path) -> None:
    """``visual`` (fp32, traced on ``example`` pixels) exported to ONNX, then quantised
    dynamically to int8 into ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    plain = target.with_suffix(".fp32.onnx")
    # with gradients on, torch's attention takes its plain path (the fused inference kernel has no ONNX form)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter says it is legacy; it is the one that needs no extras
        torch.onnx.export(visual.eval(), (example,), str(plain), input_names=["pixels"], output_names=["vectors"],
                          dynamic_axes={"pixels": {0: "batch"}, "vectors": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    with quiet_quantiser():
        quantize_dynamic(str(plain), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gemm"])
    plain.unlink()


def _check(fp32: torch.nn.Module, against: torch.nn.Module, against_precision: str, tower: OnnxTower,
           pixels: torch.Tensor) -> TowerVerdict:
    """Agreement of ``tower`` with ``fp32`` and its speed against ``against`` on ``pixels``."""
    with torch.inference_mode():
        reference = torch.nn.functional.normalize(fp32(pixels).float(), dim=1)
        mine = torch.nn.functional.normalize(tower(pixels).float(), dim=1)
        cosine = (reference * mine).sum(dim=1)
        dtype = input_dtype(against)
        seconds = {}
        for label, run in (("onnx", lambda b: tower(b)), ("torch", lambda b: against(b.to(dtype)))):
            run(pixels[:8])  # first run: kernels are prepared
            best = min(_timed(run, pixels[:8]) for _ in range(3))
            seconds[label] = best / 8
    mean, worst = float(cosine.mean()), float(cosine.min())
    used = mean >= MIN_MEAN and worst >= MIN_WORST and seconds["onnx"] < seconds["torch"]
    return TowerVerdict(mean, worst, 1000 * seconds["onnx"], 1000 * seconds["torch"], against_precision, used)


def _timed(run, batch: torch.Tensor) -> float:
    started = time.perf_counter()
    run(batch)
    return time.perf_counter() - started


def _ort_version() -> str:
    try:
        import onnxruntime
    except ImportError:
        return "none"
    return onnxruntime.__version__
