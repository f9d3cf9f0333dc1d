"""The videos list: a name filter, a sort order and pages, read from the query string.

``?q=harbour&sort=duration&order=desc&page=2``: ``q`` keeps videos whose file name contains the
text (case-insensitive), ``sort`` is one of :data:`SORTS`, ``page`` counts from 1. A page past
the end shows the last page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from indexer.errors import QueryError

PER_PAGE = 50
MAX_FILTER_CHARS = 200

#: Sort keys and their default order: name (A-Z), duration (longest first), date indexed (newest first).
SORTS: dict[str, str] = {"name": "asc", "duration": "desc", "date": "desc"}


@dataclass(frozen=True)
class VideoQuery:
    """What the videos list shows: filter text, sort key and direction, page (from 1)."""

    text: str = ""
    sort: str = "name"
    order: str = "asc"
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}")
        if self.order not in ("asc", "desc"):
            raise QueryError(f"order must be asc or desc, got {self.order!r}")
        if self.page < 1 or self.per_page < 1:
            raise QueryError(f"page must be 1 or more, got {self.page!r}")
        if len(self.text) > MAX_FILTER_CHARS:
            raise QueryError(f"the name filter is too long (at most {MAX_FILTER_CHARS} characters)")

    @classmethod
    def from_args(cls, args: Mapping[str, str], per_page: int = PER_PAGE) -> "VideoQuery":
        """Read ``q``, ``sort``, ``order`` and ``page``. Raises QueryError for bad values."""
        sort = args.get("sort") or "name"
        order = args.get("order") or (SORTS[sort] if sort in SORTS else "asc")
        try:
            page = int(args.get("page") or 1)
        except ValueError:
            raise QueryError(f"page must be a whole number, got {args.get('page')!r}") from None
        return cls((args.get("q") or "").strip(), sort, order, page, per_page)

    def link(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for this list with ``changes`` (defaults left out)."""
        values = {"q": self.text, "sort": self.sort, "order": self.order, "page": self.page}
        values.update(changes)
        default_order = SORTS[values["sort"]]
        return {k: v for k, v in values.items()
                if v not in ("", None) and not (k == "sort" and v == "name")
                and not (k == "order" and v == default_order) and not (k == "page" and v == 1)}


@dataclass(frozen=True)
class VideoPage:
    """One page of the filtered, sorted list."""

    videos: tuple[Any, ...]
    matching: int  # videos passing the filter
    page: int
    pages: int
    first: int  # 1-based position of the first video shown (0 when none)


def list_videos(store: Any, query: VideoQuery) -> VideoPage:
    """The page of ``store``'s videos that ``query`` asks for: the store filters by name, sorts
    (on indexed columns) and reads just that page."""
    _, matching = store.video_page(text=query.text, limit=0)
    pages = max(1, math.ceil(matching / query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    shown, _ = store.video_page(text=query.text, sort=query.sort, descending=query.order == "desc",
                                offset=start, limit=query.per_page)
    return VideoPage(tuple(shown), matching, page, pages, start + 1 if shown else 0)


def file_size(size: int | None) -> str:
    """Bytes for people: '812 B', '4.2 MB', '1.30 GB'."""
    if size is None or size < 0:
        return "–"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"
