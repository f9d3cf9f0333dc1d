"""Run an extractor's frames in a thread of its own, so a costly extractor (OCR) overlaps with
decoding and embedding instead of taking turns with them.

:func:`in_background` wraps an extractor factory; the wrapped extractor hands each sampled frame
to a worker thread through a bounded queue (the analysis waits only when the worker is
:data:`QUEUE_FRAMES` frames behind) and ``finish`` waits for the worker before returning the
inner extractor's result. Models that release the GIL (onnxruntime, OpenCV) then use a core
the rest of indexing leaves idle. An error in the worker is raised in the analysis' thread; an
analysis that fails calls ``close``, which drops the frames still queued and stops the worker.

On this project's 2-core machine OCR costs the same either way (``benchmarks/bench_words.py``
measures both in one run); with more cores its own thread overlaps more.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from indexer.pipeline.extractors import Extractor, ExtractorFactory
from indexer.types import SampledFrame, VideoInfo

#: Sampled frames queued for the worker at most (a 960 px picture is about 0.8 MB).
QUEUE_FRAMES = 16
_END = None


class BackgroundExtractor:
    """An extractor whose ``frame`` calls run in a worker thread, in order."""

    def __init__(self, inner: Extractor) -> None:
        self.inner = inner
        self.picture_width = getattr(inner, "picture_width", 0)
        self._queue: queue.Queue[SampledFrame | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._abandoned = False

    def start(self, info: VideoInfo) -> None:
        self.inner.start(info)
        self._thread = threading.Thread(target=self._work, name="reelsearch-extractor", daemon=True)
        self._thread.start()

    def frame(self, frame: SampledFrame) -> None:
        """Queue ``frame`` for the worker; raises what the worker raised, if it failed."""
        self._put(frame)

    def finish(self) -> Any:
        """Wait for the worker to read every queued frame, then the inner extractor's result."""
        self._put(_END)
        assert self._thread is not None, "start() comes first"
        self._thread.join()
        self._raise()
        return self.inner.finish()

    def close(self) -> None:
        """Stop the worker without reading what is still queued (the analysis failed)."""
        self._abandoned = True
        if self._thread is not None and self._thread.is_alive():
            self._put(_END, check=False)
            self._thread.join()

    def _put(self, item: SampledFrame | None, check: bool = True) -> None:
        while True:
            if check:
                self._raise()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    self._raise()
                    return

    def _work(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                if not self._abandoned:
                    self.inner.frame(item)
        except BaseException as exc:  # handed to the analysis' thread, raised there
            self._error = exc
            while self._queue.get() is not _END:  # unblock the producer until it says it is done
                pass

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


def in_background(factory: ExtractorFactory) -> ExtractorFactory:
    """A factory of ``factory``'s extractors each running its frames in a worker thread."""
    return lambda: BackgroundExtractor(factory())
