"""How every onnxruntime model here is opened: the PP-OCR detector and recogniser
(:mod:`indexer.models.ocr`) and the CLIP image tower (:mod:`indexer.models.onnx_image`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def onnx_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session of the model at ``path``, its operators in ``threads`` threads
    (at least one) and one graph at a time, all graph optimisations on, only errors logged.
    Imports onnxruntime (raises ImportError where it is missing)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
