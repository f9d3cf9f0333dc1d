"""The open_clip encoder a store records, loaded only as far as a command uses it.

Answering from stored vectors (labels, category reports, cached queries) needs the encoder's
name and dimension only, which the store records: nothing is imported or loaded. A new text
query needs the text tower: where the recorded spec describes it (``text_tower``, written by
the full encoder), the standalone tower of :mod:`indexer.models.text_tower` runs it from the
checkpoint's text weights, without open_clip or the image tower. Anything else (images, a
spec without a text tower record, a tower that cannot be loaded) loads the full
:class:`~indexer.models.clip_encoder.OpenClipEncoder` once and checks it is the recorded one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import EncoderError

log = logging.getLogger(__name__)


def open_clip_class() -> Any:
    """``OpenClipEncoder``, imported on demand (torch and open_clip take seconds to import)."""
    try:
        from indexer.models.clip_encoder import OpenClipEncoder
    except ImportError as exc:
        raise EncoderError(f"open_clip cannot be imported ({exc}); reinstall reelsearch's dependencies") from exc
    return OpenClipEncoder


class LazyClipEncoder:
    """An ``Encoder`` for a recorded open_clip spec whose towers load on first use.

    Attributes:
        name, dim: as recorded (checked against the weights when a tower loads).
    """

    def __init__(self, spec: dict[str, Any], *, weights: Path | None = None) -> None:
        """``weights`` replaces the recorded checkpoint file (another machine). Loads nothing."""
        if not isinstance(spec.get("name"), str) or not isinstance(spec.get("dim"), int):
            raise EncoderError(f"unknown encoder record {spec!r}; re-index with the encoder you want")
        self._spec = dict(spec)
        self._weights = weights
        self.name: str = spec["name"]
        self.dim: int = spec["dim"]
        self._full: Any = None
        self._text: Any = None
        self._text_failed = False
        self._lock = threading.Lock()

    @property
    def image_size(self) -> int:
        """Side of the model's square input (recorded; older records load the model to learn it)."""
        size = self._spec.get("image_size")
        return int(size) if isinstance(size, int) else self.full().image_size

    @property
    def loaded(self) -> str:
        """What is loaded now: ``nothing``, ``text tower`` or ``full model``."""
        return "full model" if self._full is not None else "text tower" if self._text is not None else "nothing"

    def spec(self) -> dict[str, Any]:
        """The spec to record: the full encoder's once loaded, else the recorded one."""
        return self._full.spec() if self._full is not None else dict(self._spec)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """As ``OpenClipEncoder.encode_images`` (loads the full model on first use)."""
        return self.full().encode_images(images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """As ``OpenClipEncoder.encode_texts``: by the text tower alone where the record allows it.

        Raises:
            TypeError: an item is not a string.
            EncoderError: the model cannot be loaded or is not the recorded one.
        """
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("encode_texts takes a sequence of str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tower = self._text_tower() if self._full is None else None
        if tower is not None:
            return tower.encode_texts(texts).numpy()
        return self.full().encode_texts(texts)

    def _text_tower(self) -> Any:
        """The standalone text tower, loaded once; None where the record has none or it fails."""
        record = self._spec.get("text_tower")
        with self._lock:
            if self._text is not None or self._text_failed or not isinstance(record, dict):
                return self._text
            try:
                from indexer.models.text_tower import StandaloneText  # noqa: PLC0415 (imports torch)

                self._text = StandaloneText(record, self._weights, int(self._spec.get("batch_size", 32)))
                log.info("text tower of %s loaded alone", self.name)
            except Exception as exc:  # missing or other file, unreadable, no open_clip: the full model decides
                self._text_failed = True
                log.info("text tower of %s not loadable alone (%s): loading the full model", self.name, exc)
            return self._text

    def full(self) -> Any:
        """The full ``OpenClipEncoder`` (loaded once).

        Raises:
            EncoderError: it cannot be loaded, or its weights are not those the index was built with.
        """
        with self._lock:
            if self._full is None:
                encoder = open_clip_class().from_spec(self._spec, weights=self._weights)
                if encoder.name != self.name or encoder.dim != self.dim:
                    raise EncoderError(
                        f"the index was built with encoder {self.name} (dim {self.dim}) but {encoder.name} "
                        f"(dim {encoder.dim}) was loaded; pass the same weights (--weights FILE or "
                        "REELSEARCH_WEIGHTS) or re-index")
                self._full, self._text = encoder, None
            return self._full

    def __getattr__(self, attr: str) -> Any:
        # precision, image_precision, description, agreement...: the full encoder's
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.full(), attr)

    def __repr__(self) -> str:
        return f"LazyClipEncoder({self.name!r}, loaded: {self.loaded})"
