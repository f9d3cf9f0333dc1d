"""Derived models (the int8 text recogniser, the onnxruntime image tower): where they are kept
(the user's cache, ``$REELSEARCH_CACHE`` else ``$XDG_CACHE_HOME/reelsearch`` else
``~/.cache/reelsearch``), written whole or not at all, made without onnxruntime's advice on screen."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from indexer.files import write_atomically

log = logging.getLogger(__name__)
V = TypeVar("V")

#: Overrides where derived models are kept.
CACHE_ENV = "REELSEARCH_CACHE"


def cache_dir() -> Path:
    """``$REELSEARCH_CACHE``, else ``$XDG_CACHE_HOME/reelsearch``, else ``~/.cache/reelsearch``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "reelsearch"


def made_before(target: Path, verdict: Callable[..., V], what: str) -> tuple[Path, V] | None:
    """``target`` (a derived model) and the verdict kept beside it (``target`` with ``.json``,
    read into ``verdict``) when both are there; None when not, or when the verdict is unreadable
    (then the log says so, naming ``what``, and the caller makes it again)."""
    verdict_file = target.with_suffix(".json")
    if not (target.is_file() and verdict_file.is_file()):
        return None
    try:
        fields: dict[str, Any] = json.loads(verdict_file.read_text())
        return target, verdict(**fields)
    except (ValueError, TypeError) as exc:
        log.info("re-making %s: its verdict %s is unreadable (%s)", what, verdict_file, exc)
        return None


def make_and_keep(target: Path, make: Callable[[Path], V], what: str, otherwise: str, hint: str) -> V | None:
    """Make a derived model: ``make(scratch)`` writes it to ``scratch`` (beside ``target``) and
    returns its verdict (a dataclass); the file then becomes ``target`` and the verdict is kept
    as ``target`` with ``.json``. None, and one log line saying why and that ``otherwise`` is
    used, when it cannot be made: a missing module (``hint`` says how to get it), a cache that
    cannot be written, or any failure of ``make`` (never half a file)."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            scratch = Path(tmp) / target.name
            verdict = make(scratch)
            os.replace(scratch, target)
        write_atomically(target.with_suffix(".json"), json.dumps(asdict(verdict)).encode())  # type: ignore[call-overload]
    except ImportError as exc:
        log.info("%s: %s, as making it needs %s (%s)", otherwise, what, exc.name, hint)
        return None
    except OSError as exc:
        log.info("%s: cannot keep %s in %s (%s)", otherwise, what, folder, exc)
        return None
    except Exception as exc:  # the exporter or quantiser failed on this model: the original is always there
        log.warning("%s: %s could not be made (%s: %s)", otherwise, what, type(exc).__name__, exc)
        return None
    return verdict


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
