"""Derived models (the int8 text recogniser, the onnxruntime image tower): where they are kept
(the user's cache, ``$REELSEARCH_CACHE`` else ``$XDG_CACHE_HOME/reelsearch`` else
``~/.cache/reelsearch``), written whole or not at all, made without onnxruntime's advice on screen."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

#: Overrides where derived models are kept.
CACHE_ENV = "REELSEARCH_CACHE"


def cache_dir() -> Path:
    """``$REELSEARCH_CACHE``, else ``$XDG_CACHE_HOME/reelsearch``, else ``~/.cache/reelsearch``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "reelsearch"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file)."""
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    scratch.write_text(text)
    os.replace(scratch, path)


@contextlib.contextmanager
def quiet_quantiser() -> Iterator[None]:
    """While the block runs, drop onnxruntime's "consider pre-processing before quantization"
    warnings (logged on the root logger): advice to whoever quantises a model by hand, not news
    for someone indexing videos."""
    advice = _DropAdvice()
    logging.getLogger().addFilter(advice)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(advice)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()
