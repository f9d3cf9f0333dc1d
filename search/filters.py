"""Search filters, resolved through the catalog into the ids of the videos a search may return.

Filters apply to whole videos:

* ``category``: the video has an active segment labelled with the category or any of its
  descendants (``sports`` includes ``sports/football``). Accepts an id, a name or a last id
  component (see :meth:`indexer.taxonomy.Taxonomy.find`).
* ``restricted``: True keeps only videos with an active segment of a restricted category
  (alcohol, tobacco, weapons, gambling ...); False drops them; None ignores the flag.
* ``min_duration`` / ``max_duration``: the video's duration in seconds (inclusive).
* ``video_id``: only that video.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from indexer.errors import NotFoundError, QueryError
from indexer.taxonomy import Taxonomy

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


def category_labels(taxonomy: Taxonomy | None, text: str) -> tuple[str, ...]:
    """The category matching ``text`` and all its descendants' ids.

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
    return taxonomy.descendants(category.id)


def _labelled(store: Any, labels: tuple[str, ...]) -> set[int]:
    return set(store.videos_with_labels(list(labels))) if labels else set()


def candidate_videos(store: Any, taxonomy: Taxonomy | None, filters: Filters) -> list[int] | None:
    """Sorted ids of the videos that pass ``filters``; None when no filter is set (all videos).

    Raises:
        NotFoundError: unknown video id or category.
        QueryError: a filter needs a taxonomy that is not loaded.
    """
    if not filters.active:
        return None
    ids: set[int] | None = None
    if filters.video_id is not None:
        ids = {store.get_video(int(filters.video_id)).id}  # NotFoundError for an unknown id
    if filters.category is not None:
        ids = _intersect(ids, _labelled(store, category_labels(taxonomy, filters.category)))
    if filters.min_duration is not None or filters.max_duration is not None or filters.restricted is False:
        videos = store.list_videos(min_duration=filters.min_duration, max_duration=filters.max_duration)
        ids = _intersect(ids, {v.id for v in videos})
    if filters.restricted is not None:
        if taxonomy is None:
            raise QueryError("no taxonomy is loaded, so the restricted filter cannot be used")
        flagged = _labelled(store, tuple(c.id for c in taxonomy.categories if c.restricted))
        ids = _intersect(ids, flagged) if filters.restricted else (ids or set()) - flagged
    log.debug("filters %s leave %d video(s)", filters, len(ids or ()))
    return sorted(ids or ())


def _intersect(ids: set[int] | None, more: set[int]) -> set[int]:
    return set(more) if ids is None else ids & more
