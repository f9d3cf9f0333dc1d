"""The decoding side of indexing as one stream over every file, so files overlap.

:func:`scan_files` runs in the indexer's producer thread: for each file it decides what to do
(``plan``: unchanged, renamed, or to be encoded) and, for a file to encode, decodes it and
yields its cuts and sampled frames between a :class:`FileStart` and a :class:`FileEnd`. While
the main thread still embeds the last frames of one file, labels and stores it, this thread is
already decoding the next, so a folder of short ads keeps both cores busy; the bounded queue
between the threads bounds memory. A file that fails yields :class:`FileFailed` and the
stream goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import MediaError
from indexer.types import SampledFrame, ShotCut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    """A file to encode: its content hash and status-to-be ("indexed" or "reindexed")."""

    digest: str
    status: str


@dataclass(frozen=True)
class FileStart:
    """Frames of ``path`` follow (``scan`` is what ``open`` made of it; ``started`` when work on it began)."""

    path: Path
    plan: Planned
    scan: Any
    started: float


@dataclass(frozen=True)
class FileEnd:
    """Every cut and sampled frame of ``path`` has been yielded."""

    path: Path


@dataclass(frozen=True)
class FileFailed:
    """``path`` could not be planned or decoded; anything yielded for it since its start is void."""

    path: Path
    reason: str
    started: float


Item = FileStart | FileEnd | FileFailed | SampledFrame | ShotCut | Any


def scan_files(items: Iterable[Path | MediaError], plan: Callable[[Path], Any],
               open_scan: Callable[[Path, str], Any]) -> Iterator[Item]:
    """Plan and decode every file in ``items`` in turn (see the module docstring).

    ``plan(path)`` returns a :class:`Planned` for a file to encode, or anything else (a finished
    result, yielded as it is); ``open_scan(path, digest)`` returns an object whose ``scanner``
    (a :class:`FrameScanner`) is then iterated here. Both may raise MediaError. A MediaError in
    ``items`` (a path discovery could not use) becomes a :class:`FileFailed`.
    """
    for item in items:
        started = time.perf_counter()
        if isinstance(item, MediaError):
            yield FileFailed(item.path.absolute(), item.reason, started)
            continue
        path = item.absolute()
        try:
            planned = plan(path)
            if not isinstance(planned, Planned):
                yield planned
                continue
            scan = open_scan(path, planned.digest)
            yield FileStart(path, planned, scan, started)
            yield from scan.scanner
            yield FileEnd(path)
        except MediaError as exc:
            log.info("skipping %s", exc)
            yield FileFailed(path, exc.reason, started)
        except Exception as exc:  # a decoder/library bug must not stop the batch
            log.warning("skipping %s: unexpected error", path, exc_info=True)
            yield FileFailed(path, f"unexpected error: {type(exc).__name__}: {exc}", started)
