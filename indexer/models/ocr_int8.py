"""The text recogniser in int8: quantised once per machine, kept only where it is faster and reads alike.

The PP-OCR recogniser is most of what OCR costs while indexing (about 20-40 ms a line in fp32,
three quarters of it in 1x1 convolutions). onnxruntime runs those convolutions in int8 about 1.7x
as fast on this project's CPU (VNNI). Quantising is static, per output channel (weights int8,
activations uint8, QDQ), calibrated on text lines drawn here with Pillow's own scalable font, in
many sizes and colours, on flat, noisy and gradient grounds: nothing is downloaded.

:func:`int8_recogniser` makes the int8 copy on first use (a few seconds), then checks it on
*other* lines (other words, other grounds) against the fp32 model: the share of lines read
identically (*agreement*) and the time per line of both. The copy is used only where it agrees
on at least :data:`MIN_AGREEMENT` of them *and* is faster on this CPU; the verdict is kept next
to it, so later runs just load it (in the cache of :mod:`indexer.models.cache`);
when it cannot be written, or ``onnx`` (the quantiser's dependency) is missing, the fp32 model
is used and one log line says why. ``REELSEARCH_OCR_PRECISION=fp32`` keeps fp32 always.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from indexer.models.cache import (CACHE_ENV, cache_dir, made_before, make_and_keep,  # noqa: F401 (CACHE_ENV: callers)
                                  quiet_quantiser)

log = logging.getLogger(__name__)

#: ``fp32``: never use the int8 recogniser; ``auto`` (default): where it agrees and is faster.
PRECISION_ENV = "REELSEARCH_OCR_PRECISION"
#: Bump when the quantisation recipe changes (a new copy is made).
RECIPE = 1
#: Lines drawn to calibrate, and other lines to check agreement and speed on.
CALIBRATION_LINES = 96
CHECK_LINES = 48
#: The int8 copy is used only when at least this share of check lines read identically to fp32.
MIN_AGREEMENT = 0.95

_WORDS = ("only sale free delivery sun cream drink responsibly off new limited offer call now terms "
          "apply today save more best price order online available stores while stocks last see "
          "details conditions every day low prices fresh taste win prize discount code members "
          "extra value pack family size limited edition official partner since quality guaranteed").split()
_CHECK_WORDS = ("vacation insurance mortgage rates apply subject to approval energy drink original recipe "
                "hurry ends sunday introducing the all new model available in selected markets ask your "
                "pharmacist before use not suitable for children under years battery included").split()


@dataclass(frozen=True)
class Verdict:
    """How the int8 copy compared with fp32 on this machine, and whether it is used."""

    agreement: float  # share of check lines read identically
    fp32_ms: float  # per line, one thread
    int8_ms: float
    used: bool


def draw_lines(count: int, seed: int, words: tuple[str, ...] | list[str] = tuple(_WORDS)) -> Iterator[np.ndarray]:
    """``count`` RGB uint8 crops of one text line each (words, prices, percentages, an address),
    drawn with Pillow's scalable default font at 12-90 px, light on dark or dark on light or
    coloured, on flat, noisy or gradient grounds, with a margin like the detector's boxes."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    fonts: dict[int, object] = {}
    for _ in range(count):
        parts = rng.sample(list(words), rng.randint(1, 4))
        if rng.random() < 0.4:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(
                [f"${rng.randint(1, 99)}.{rng.randint(0, 99):02d}", f"{rng.choice([10, 20, 25, 50, 70])}% off",
                 f"SPF {rng.choice([15, 30, 50])}", "www.example.com", f"{rng.randint(1, 12)}/{rng.randint(1, 28)}"]))
        text = " ".join(parts)
        if rng.random() < 0.3:
            text = text.upper() if rng.random() < 0.5 else text.title()
        size = rng.choice([12, 16, 20, 28, 36, 48, 64, 90])
        if size not in fonts:
            fonts[size] = ImageFont.load_default(size)
        font = fonts[size]
        ground = np.array([rng.randrange(256) for _ in range(3)], np.float32)
        ink = np.where(ground.mean() > 128, ground * rng.uniform(0.0, 0.45),
                       ground + (255 - ground) * rng.uniform(0.55, 1.0))
        left, top, right, bottom = font.getbbox(text)
        margin = max(2, (bottom - top) // 3)
        width, height = right - left + 2 * margin, bottom - top + 2 * margin
        base = np.broadcast_to(ground, (height, width, 3)).copy()
        style = rng.random()
        if style < 0.35:
            base += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(3, 25), base.shape)
        elif style < 0.7:
            base *= np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.4), width, dtype=np.float32)[None, :, None]
        image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        ImageDraw.Draw(image).text((margin - left, margin - top), text, fill=tuple(int(v) for v in ink), font=font)
        yield np.asarray(image)


def int8_recogniser(source: Path, read_line: Callable[[Path, np.ndarray], tuple[str, float]],
                    model_input: Callable[[np.ndarray], np.ndarray]) -> tuple[Path, Verdict] | None:
    """The int8 copy of the recogniser ``source`` and its :class:`Verdict`, made and checked on
    first use; None when it cannot be made here (say why in the log).

    ``read_line(model, crop)`` reads the line in an RGB crop with a model file (fp32 or int8);
    ``model_input(crop)`` is the recogniser's input for a crop (scaled, normalised), to calibrate.
    """
    found = cached(source)
    if found is not None:
        return found
    target = _target(source)
    started = time.perf_counter()

    def make(scratch: Path) -> Verdict:
        _quantise(source, scratch, model_input)
        return _check(source, scratch, read_line)

    verdict = make_and_keep(target, make, "its int8 copy", "text recogniser stays fp32", "pip install onnx")
    if verdict is None:
        return None
    log.info("int8 text recogniser made in %.1f s: %.0f %% of check lines read as fp32 does, %.1f ms a line "
             "against %.1f ms (%s)", time.perf_counter() - started, 100 * verdict.agreement, verdict.int8_ms,
             verdict.fp32_ms, "used" if verdict.used else "not used")
    return target, verdict


def pending(source: Path) -> bool:
    """Whether loading a reader will first make (and check) the int8 copy of ``source``."""
    return os.environ.get(PRECISION_ENV, "auto") == "auto" and cached(source) is None


def cached(source: Path) -> tuple[Path, Verdict] | None:
    """The int8 copy of ``source`` and its verdict if they were made before (else None)."""
    return made_before(_target(source), Verdict, "the int8 text recogniser")


def _target(source: Path) -> Path:
    key = f"{source.name}:{source.stat().st_size}:{_ort_version()}:{RECIPE}"
    return cache_dir() / "ocr" / f"{source.stem}.int8.{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _quantise(source: Path, target: Path, model_input: Callable[[np.ndarray], np.ndarray]) -> None:
    """Static per-channel int8 (QDQ) copy of ``source``, calibrated on :func:`draw_lines`."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(source))
    if max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) < 13:
        model = version_converter.convert_version(model, 13)  # per-channel scales need opset 13
    upgraded = target.with_suffix(".fp32.onnx")
    onnx.save(model, str(upgraded))
    feeds = [{model.graph.input[0].name: model_input(crop)} for crop in draw_lines(CALIBRATION_LINES, seed=1)]

    class Lines(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self._feeds, None)

    with quiet_quantiser():
        quantize_static(str(upgraded), str(target), Lines(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "MatMul"])
    upgraded.unlink()


def _check(fp32: Path, int8: Path, read_line: Callable[[Path, np.ndarray], tuple[str, float]]) -> Verdict:
    """Agreement and per-line speed of ``int8`` against ``fp32`` on lines not used to calibrate."""
    images = list(draw_lines(CHECK_LINES, seed=2, words=_CHECK_WORDS))
    reads, seconds = {}, {}
    for name, model in (("fp32", fp32), ("int8", int8)):
        read_line(model, images[0])  # first run: onnxruntime prepares its kernels
        started = time.perf_counter()
        reads[name] = [read_line(model, image)[0] for image in images]
        seconds[name] = (time.perf_counter() - started) / len(images)
    agreement = float(np.mean([a == b for a, b in zip(reads["fp32"], reads["int8"])]))
    used = agreement >= MIN_AGREEMENT and seconds["int8"] < seconds["fp32"]
    return Verdict(agreement, 1000 * seconds["fp32"], 1000 * seconds["int8"], used)


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__
