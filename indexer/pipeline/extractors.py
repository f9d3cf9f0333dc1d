"""The seam for new signals: extractors that read a video's sampled frames during analysis.

An extractor (on-screen text, speech, a learned tagger...) is one module with a factory that
returns a fresh object per video, registered under a name::

    from indexer.pipeline.extractors import register

    class ShotCounter:
        def start(self, info): self.shots = 0
        def frame(self, frame): self.shots += frame.shot_start
        def finish(self): return self.shots

    register("shots", ShotCounter)

The analysis runs every registered extractor on every sampled frame (in the thread that
already holds the decoded frame). An extractor with a ``picture_width`` attribute above 0 also
gets the frames the change gate turned away (``frame.encoded`` False, ``frame.image`` None) and,
on every frame, ``frame.picture``: the whole frame at most that wide, as a
:class:`~indexer.types.Picture` (scaled YUV planes; OCR reads them). The analysis puts what
``finish`` returns into ``Analysis.extracted[name]``; the value must be picklable, since an analysis may run in a
worker process and be committed elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from indexer.types import SampledFrame, VideoInfo


class Extractor(Protocol):
    """Reads one video's sampled frames and returns one picklable value.

    Optional attribute ``picture_width: int`` (see the module docstring).
    """

    def start(self, info: VideoInfo) -> None:
        """Called once before the first frame (``info.path`` names the file, e.g. for audio)."""
        ...

    def frame(self, frame: SampledFrame) -> None:
        """Called for every sampled frame in time order (``frame.image`` is the model input, None
        on a frame the change gate turned away)."""
        ...

    def finish(self) -> Any:
        """Called after the last frame; the result goes into ``Analysis.extracted``."""
        ...

    # Optional: ``close(self) -> None``, called instead of ``finish`` when the analysis fails
    # (to stop a worker thread; see :mod:`indexer.pipeline.background`).


ExtractorFactory = Callable[[], Extractor]
_REGISTRY: dict[str, ExtractorFactory] = {}


def register(name: str, factory: ExtractorFactory) -> None:
    """Run ``factory()``'s extractor in every analysis from now on, its result named ``name``.

    Raises ValueError for an empty name or one already registered.
    """
    if not name or name in _REGISTRY:
        raise ValueError(f"extractor name must be new and non-empty, got {name!r}")
    _REGISTRY[name] = factory


def unregister(name: str) -> None:
    """Stop running the extractor ``name`` (no error if it is not registered)."""
    _REGISTRY.pop(name, None)


def registered() -> Mapping[str, ExtractorFactory]:
    """The registered extractor factories by name (a copy)."""
    return dict(_REGISTRY)
