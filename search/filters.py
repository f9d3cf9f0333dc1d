"""Search filters, resolved through the catalog into the ids of the videos a search may return.

Filters apply to whole videos:

* ``category``: the category is present in the video (:mod:`indexer.store.coverage`: its own
  segments or any descendant's, as curators left them; ``sports`` includes ``sports/football``).
  Accepts an id, a name or a last id component (see :meth:`indexer.labels.taxonomy.Taxonomy.find`).
* ``restricted``: True keeps only videos where a restricted category (alcohol, tobacco,
  weapons, gambling ...) is present; False drops them; None ignores the flag.
* ``min_duration`` / ``max_duration``: the video's duration in seconds (inclusive).
* ``video_id``: only that video.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from indexer.errors import NotFoundError, QueryError
from indexer.labels.taxonomy import Taxonomy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Which videos a search may return (all fields optional; see the module docstring)."""

    category: str | None = None
    restricted: bool | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    video_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_duration", "max_duration"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise QueryError(f"{name.replace('_', ' ')} must be a number of seconds >= 0, got {value}")
        if (self.min_duration is not None and self.max_duration is not None
                and self.min_duration > self.max_duration):
            raise QueryError(f"min duration {self.min_duration:g} s is above max duration "
                             f"{self.max_duration:g} s")
        if self.category is not None and not self.category.strip():
            raise QueryError("the category filter is empty")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.category, self.restricted, self.min_duration,
                                           self.max_duration, self.video_id))


def find_category(taxonomy: Taxonomy | None, text: str) -> str:
    """The id of the category matching ``text``.

    Raises:
        QueryError: no taxonomy is loaded.
        NotFoundError: no category matches (the message lists the top-level ones).
    """
    if taxonomy is None:
        raise QueryError("no taxonomy is loaded, so categories cannot be used as filters")
    category = taxonomy.find(text)
    if category is None:
        roots = ", ".join(c.id for c in taxonomy.roots())
        raise NotFoundError(f"unknown category {text!r}; top-level categories are: {roots}")
    return category.id


@dataclass(frozen=True)
class VideoSet:
    """Videos a search may return: ``include`` (None: every video) minus ``exclude``."""

    include: frozenset[int] | None = None
    exclude: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return self.include is None and not self.exclude

    def allows(self, video_id: int) -> bool:
        return (self.include is None or video_id in self.include) and video_id not in self.exclude

    def ids(self) -> list[int] | None:
        """Sorted allowed ids, or None when only exclusions apply (the rest of the archive)."""
        return None if self.include is None else sorted(self.include - self.exclude)


class VideoDurations:
    """Every video's duration, read once per process and re-read when the number of videos or
    frames in the store changes (a duration filter then costs no catalog query)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._key: tuple[int, int] | None = None
        self._durations: dict[int, float] = {}
        self._lock = threading.Lock()

    def between(self, low: float | None, high: float | None) -> set[int]:
        """Ids of the videos whose duration is in [low, high] (None: unbounded)."""
        key = (self.store.video_count(), self.store.vector_count())
        with self._lock:
            if key != self._key:
                self._durations = {v.id: v.duration for v in self.store.list_videos()}
                self._key = key
            durations = self._durations
        lo, hi = low if low is not None else -math.inf, high if high is not None else math.inf
        return {vid for vid, duration in durations.items() if lo <= duration <= hi}


def videos_showing(store: Any, categories: tuple[str, ...]) -> set[int]:
    """Ids of the videos where any of ``categories`` is present (:mod:`indexer.store.coverage`),
    from the coverage the store keeps in step with every change."""
    return store.videos_showing(categories) if categories else set()


def candidate_videos(store: Any, taxonomy: Taxonomy | None, filters: Filters,
                     durations: VideoDurations | None = None) -> VideoSet:
    """The videos that pass ``filters``.

    Raises:
        NotFoundError: unknown video id or category.
        QueryError: a filter needs a taxonomy that is not loaded.
    """
    include: set[int] | None = None
    if filters.video_id is not None:
        include = {store.get_video(int(filters.video_id)).id}  # NotFoundError for an unknown id
    if filters.category is not None:
        include = _intersect(include, videos_showing(store, (find_category(taxonomy, filters.category),)))
    if filters.min_duration is not None or filters.max_duration is not None:
        table = durations or VideoDurations(store)
        include = _intersect(include, table.between(filters.min_duration, filters.max_duration))
    exclude: set[int] = set()
    if filters.restricted is not None:
        if taxonomy is None:
            raise QueryError("no taxonomy is loaded, so the restricted filter cannot be used")
        flagged = videos_showing(store, restricted_roots(taxonomy))
        if filters.restricted:
            include = _intersect(include, flagged)
        else:
            exclude = flagged
    log.debug("filters %s: include %s, exclude %d", filters,
              "all" if include is None else len(include), len(exclude))
    return VideoSet(None if include is None else frozenset(include), frozenset(exclude))


def restricted_roots(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The restricted categories whose parent is not restricted (their coverage includes
    every restricted category below them)."""
    flagged = {c.id for c in taxonomy.categories if c.restricted}
    return tuple(c.id for c in taxonomy.categories if c.restricted and c.parent not in flagged)


def _intersect(ids: set[int] | None, more: set[int]) -> set[int]:
    return set(more) if ids is None else ids & more
