"""Browse view models: per category the number of videos and screen time, and paged listings.

A category counts its children: a video "shows sports" if any segment labelled ``sports`` or
``sports/...`` is active in it, and its screen time is the union of those segments (overlaps
counted once). Labels that are not taxonomy categories are curator free-text tags.
The counts come from summaries the store maintains with every change (``Store.label_totals``,
``Store.label_video_page``), so no page reads the whole archive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .timeline import category_colours, covered_seconds, label_colour, make_block

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """Position of one page in a listing: 1-based ``number`` of ``pages``, ``total`` rows."""

    number: int
    pages: int
    total: int
    per_page: int

    @classmethod
    def of(cls, requested: int, total: int, per_page: int = PER_PAGE) -> Page:
        """The page asked for, clamped to the listing (a page past the end shows the last)."""
        pages = max(1, math.ceil(total / per_page))
        return cls(min(max(1, requested), pages), pages, total, per_page)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    def to_dict(self) -> dict[str, int]:
        return {"page": self.number, "pages": self.pages, "total": self.total, "per_page": self.per_page}


def category_tree(taxonomy: Any, totals: dict[str, Any], overall: float) -> list[dict[str, Any]]:
    """Rows of the taxonomy in file order (parents before children) with their statistics
    (``totals``: ``Store.label_totals()``; ``overall``: seconds of indexed video)."""
    rows = []
    for cat in taxonomy.categories:
        total = totals.get(cat.id)
        videos, seconds = (total.videos, total.duration) if total else (0, 0.0)
        rows.append({"id": cat.id, "name": cat.name, "parent": cat.parent,
                     "depth": cat.id.count("/"), "restricted": cat.restricted,
                     "description": cat.description, "colour": label_colour(cat.id, category_colours(taxonomy.ids)),
                     "videos": videos, "screen_time": round(seconds, 6),
                     "share": min(1.0, seconds / (overall or 1.0))})
    return rows


def tags(taxonomy: Any, totals: dict[str, Any]) -> set[str]:
    """Labels carried by some video that are not taxonomy categories (curator tags)."""
    return {label for label, total in totals.items() if total.own_videos} - set(taxonomy.ids)


def tag_rows(taxonomy: Any, totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Free-text labels (curator tags), most videos first."""
    rows = [{"id": label, "name": label, "videos": totals[label].videos,
             "screen_time": round(totals[label].duration, 6),
             "colour": label_colour(label, category_colours(taxonomy.ids))} for label in tags(taxonomy, totals)]
    return sorted(rows, key=lambda r: (-r["videos"], r["name"]))


def restricted_summary(taxonomy: Any, store: Any) -> dict[str, Any] | None:
    """How many videos show any restricted category (None if the taxonomy has none)."""
    roots = [c.id for c in taxonomy.categories if c.restricted and not
             (c.parent and taxonomy.get(c.parent).restricted)]
    if not roots:
        return None
    videos, seconds = store.labels_union(roots)
    return {"videos": videos, "screen_time": seconds}


def label_listing(store: Any, label: str, labels: Iterable[str], page: int = 1,
                  per_page: int = PER_PAGE) -> tuple[list[dict[str, Any]], Page]:
    """One page of the videos showing ``label`` (a category, children included, or a tag):
    how long, what share, where (``labels``: the label and its descendants' ids), and the
    middle of its longest segment (``thumb_time``, for a thumbnail); most screen time first."""
    _, total = store.label_video_page(label, offset=0, limit=0)
    where = Page.of(page, total, per_page)
    shown, _ = store.label_video_page(label, offset=where.offset, limit=per_page)
    segments = store.active_segments([video.id for video, _ in shown], list(labels))
    rows = []
    for video, seconds in shown:
        mine = sorted(segments.get(video.id, []), key=lambda s: (s.start, s.end))
        if not mine:
            continue
        longest = max(mine, key=lambda s: (s.end - s.start, -s.start))
        rows.append({"video_id": video.id, "name": video.path.name, "path": str(video.path),
                     "duration": video.duration, "screen_time": round(seconds, 6),
                     "share": seconds / video.duration if video.duration else 0.0,
                     "thumb_time": round((longest.start + longest.end) / 2, 6),
                     "spans": merged_spans(mine, video.duration),
                     "segments": [_segment_row(s, video.duration) for s in mine]})
    return rows, where


def merged_spans(segments: Sequence[Any], duration: float) -> list[dict[str, Any]]:
    """Overlapping segments (a parent and its child, say) merged into spans for display."""
    spans: list[dict[str, Any]] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        if spans and seg.start <= spans[-1]["end"]:
            last = spans[-1]
            last["end"] = max(last["end"], seg.end)
            last["curator"] = last["curator"] or seg.source == "curator"
        else:
            spans.append({"start": seg.start, "end": seg.end, "curator": seg.source == "curator"})
    for span in spans:
        block = make_block(span["start"], span["end"], duration, "")
        span.update(left=block.left, width=block.width)
    return spans


def _segment_row(seg: Any, duration: float) -> dict[str, Any]:
    block = make_block(seg.start, seg.end, duration, seg.label)
    return {"id": seg.id, "label": seg.label, "start": seg.start, "end": seg.end,
            "score": seg.score, "source": seg.source, "left": block.left, "width": block.width}


def top_labels(taxonomy: Any, segments: Sequence[Any], limit: int = 4) -> list[dict[str, Any]]:
    """The labels of one video with the most screen time (for the videos list)."""
    by_label: dict[str, list[tuple[float, float]]] = {}
    for s in segments:
        by_label.setdefault(s.label, []).append((s.start, s.end))
    ranked = sorted(by_label, key=lambda lab: -covered_seconds(by_label[lab]))[:limit]
    names = {c.id: c.name for c in taxonomy.categories}
    return [{"id": lab, "name": names.get(lab, lab), "colour": label_colour(lab, category_colours(taxonomy.ids))}
            for lab in ranked]
