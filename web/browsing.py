"""Browse view models: per category the number of videos and screen time, and paged listings.

Presence is :mod:`indexer.store.coverage` (the one rule): a category counts its children, curator
rejections included (rejecting a video's only wine also takes "alcohol" away unless alcohol
was seen on its own). Screen time is the union of the coverage pieces (overlaps counted once).
Labels that are not taxonomy categories are curator free-text tags. The counts come from
summaries the store keeps in step with every change (``Store.label_totals``,
``Store.label_video_page``), and listings read one page of videos, so no page reads the whole
archive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from flask import url_for

from indexer.store.coverage import coverage, label_tree

from .archive import shown_path
from .timeline import category_colours, label_colour, make_block

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
    """Labels present in some video that are not taxonomy categories (curator tags)."""
    return {label for label, total in totals.items() if total.own_videos} - set(taxonomy.ids)


def tag_rows(taxonomy: Any, totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Free-text labels (curator tags), most videos first."""
    rows = [{"id": label, "name": label, "videos": totals[label].videos,
             "screen_time": round(totals[label].duration, 6),
             "colour": label_colour(label, category_colours(taxonomy.ids))} for label in tags(taxonomy, totals)]
    return sorted(rows, key=lambda r: (-r["videos"], r["name"]))


def restricted_summary(taxonomy: Any, store: Any, roots: Sequence[str]) -> dict[str, Any] | None:
    """How many videos show any restricted category (``roots``: the restricted categories
    whose parent is not restricted; None if there are none)."""
    if not roots:
        return None
    videos, seconds = store.labels_union(list(roots))
    return {"videos": videos, "screen_time": seconds}


def label_listing(store: Any, taxonomy: Any, label: str, page: int = 1,
                  per_page: int = PER_PAGE) -> tuple[list[dict[str, Any]], Page]:
    """One page of the videos showing ``label`` (a category with its children, or a tag),
    most screen time first: how long, what share, where (coverage pieces), and the middle of its
    longest piece (``thumb_time``, for a thumbnail)."""
    _, total = store.label_video_page(label, offset=0, limit=0)
    where = Page.of(page, total, per_page)
    shown, _ = store.label_video_page(label, offset=where.offset, limit=per_page)
    segments = store.videos_with_labels(None, include_rejected=True, video_ids=[v.id for v, _ in shown])
    tree = label_tree(taxonomy.ids)
    rows = []
    for video, seconds in shown:
        mine = coverage(segments.get(video.id, ()), label, tree)
        if not mine:  # changed since the page was counted
            continue
        longest = max(mine, key=lambda s: (s.end - s.start, -s.start))
        rows.append({"video_id": video.id, "href": url_for("pages.video", video_id=video.id),
                     "name": video.path.name, "path": shown_path(video.path),
                     "thumb_time": round((longest.start + longest.end) / 2, 6),
                     "duration": video.duration, "screen_time": round(seconds, 6),
                     "share": seconds / video.duration if video.duration else 0.0,
                     "spans": merged_spans(mine, video.duration),
                     "segments": [_segment_row(s, video.duration) for s in mine]})
    return rows, where


def page_labels(store: Any, taxonomy: Any, video_ids: Sequence[int],
                limit: int = 4) -> dict[int, list[dict[str, Any]]]:
    """video id -> its ``limit`` labels with the most screen time (chips for a page of videos),
    from the coverage the store maintains: one read for the page, no segments."""
    seconds = store.video_label_seconds(video_ids)
    cats = {c.id: c for c in taxonomy.categories}
    colours = category_colours(taxonomy.ids)
    chips: dict[str, dict[str, Any]] = {}  # one chip per label per page
    out = {}
    for vid in video_ids:
        ranked = sorted(seconds.get(vid, {}).items(), key=lambda item: (-item[1], item[0]))[:limit]
        out[vid] = [chips[lab] if lab in chips else chips.setdefault(lab, label_chip(cats.get(lab), lab, colours))
                    for lab, _ in ranked]
    return out


def label_chip(cat: Any, label: str, colours: dict[str, str]) -> dict[str, Any]:
    """How a label is shown as a link: name, colour, restricted flag, its browse page
    (``cat``: its taxonomy category, None for a curator's free-text tag)."""
    href = (url_for("pages.browse_category", category_id=label) if cat is not None
            else url_for("pages.browse_tag", tag=label))
    return {"id": label, "name": cat.name if cat is not None else label, "is_category": cat is not None,
            "restricted": bool(cat is not None and cat.restricted), "href": href,
            "colour": label_colour(label, colours)}


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
    """A segment's one JSON shape (``SegmentRecord.to_dict``) with where its bar sits."""
    block = make_block(seg.start, seg.end, duration, seg.label)
    return {**seg.to_dict(), "left": block.left, "width": block.width}


def browse_tree(rows: Sequence[dict[str, Any]], *, show_all: bool = False,
                text: str = "") -> list[dict[str, Any]]:
    """The category rows (:func:`category_tree`) as a nested tree for the browse page.

    Categories no video shows are left out unless ``show_all``. ``text`` keeps the categories
    whose name or id contains it (case-insensitive) and the categories above them; then every
    node is ``open`` (else all start collapsed). Each node gets ``children``.
    """
    needle = text.strip().casefold()
    by_id = {row["id"]: row for row in rows}
    keep: set[str] = set()
    for row in rows:
        if (show_all or row["videos"]) and (not needle or needle in row["name"].casefold()
                                             or needle in row["id"].casefold()):
            cid: str | None = row["id"]
            while cid is not None and cid not in keep:
                keep.add(cid)
                cid = by_id[cid]["parent"] if cid in by_id else None
    nodes = {row["id"]: {**row, "children": [], "open": bool(needle)} for row in rows if row["id"] in keep}
    roots = []
    for node in nodes.values():  # file order: parents before children
        parent = nodes.get(node["parent"]) if node["parent"] else None
        (parent["children"] if parent else roots).append(node)
    return roots
