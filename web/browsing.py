"""Browse view models: per category the number of videos and screen time, and listings.

Presence is :mod:`indexer.labels.coverage` (the one rule): a category counts its children, curator
rejections included (rejecting a video's only wine also takes "alcohol" away unless alcohol
was seen on its own). Screen time is the union of the coverage pieces (overlaps counted once).
Labels that are not taxonomy categories are curator free-text tags. Computed from the stored
segments and cached until the store changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from indexer.labels.coverage import covered_seconds, label_tree, video_coverage

from .archive import shown_path
from .timeline import category_colours, label_colour, make_block


@dataclass(frozen=True)
class Snapshot:
    """Every indexed video and where each label is present in it, as of one store state."""

    videos: dict[int, Any]  # id -> VideoRecord
    coverage: dict[int, dict[str, tuple[Any, ...]]]  # video id -> label -> coverage pieces

    @property
    def total_duration(self) -> float:
        """Seconds of indexed video."""
        return sum(v.duration for v in self.videos.values())

    def labels(self) -> set[str]:
        """Every label present in at least one video."""
        return {label for present in self.coverage.values() for label in present}


def take_snapshot(store: Any, taxonomy: Any) -> Snapshot:
    """Read every video and its segments from ``store``; derive coverage with ``taxonomy``."""
    videos = {v.id: v for v in store.list_videos()}
    rows = store.videos_with_labels(None, include_rejected=True)
    tree = label_tree(taxonomy.ids)
    return Snapshot(videos, {vid: video_coverage(rows.get(vid, ()), tree) for vid in videos})


def _stats(snapshot: Snapshot, labels: Iterable[str]) -> tuple[int, float]:
    """(number of videos, total screen time) where any of ``labels`` is present."""
    count, total = 0, 0.0
    for present in snapshot.coverage.values():
        pieces = [p for label in labels for p in present.get(label, ())]
        if pieces:
            count += 1
            total += covered_seconds(pieces)
    return count, total


def category_tree(taxonomy: Any, snapshot: Snapshot) -> list[dict[str, Any]]:
    """Rows of the taxonomy in file order (parents before children) with their statistics."""
    overall = snapshot.total_duration or 1.0
    rows = []
    for cat in taxonomy.categories:
        videos, seconds = _stats(snapshot, (cat.id,))
        rows.append({"id": cat.id, "name": cat.name, "parent": cat.parent,
                     "depth": cat.id.count("/"), "restricted": cat.restricted,
                     "description": cat.description, "colour": label_colour(cat.id, category_colours(taxonomy.ids)),
                     "videos": videos, "screen_time": round(seconds, 6),
                     "share": min(1.0, seconds / overall)})
    return rows


def tag_rows(taxonomy: Any, snapshot: Snapshot) -> list[dict[str, Any]]:
    """Free-text labels (curator tags), most videos first."""
    known = set(taxonomy.ids)
    rows = []
    for label in sorted(snapshot.labels() - known):
        videos, seconds = _stats(snapshot, (label,))
        rows.append({"id": label, "name": label, "videos": videos, "screen_time": round(seconds, 6),
                     "colour": label_colour(label, category_colours(taxonomy.ids))})
    return sorted(rows, key=lambda r: (-r["videos"], r["name"]))


def restricted_summary(taxonomy: Any, snapshot: Snapshot) -> dict[str, Any] | None:
    """How many videos show any restricted category (None if the taxonomy has none)."""
    labels = {c.id for c in taxonomy.categories if c.restricted}
    if not labels:
        return None
    videos, seconds = _stats(snapshot, labels)
    return {"videos": videos, "screen_time": seconds}


def label_listing(snapshot: Snapshot, label: str) -> list[dict[str, Any]]:
    """Per video showing ``label`` (a category with its children, or a tag): how long, what
    share, where (coverage pieces), and the middle of its longest piece (``thumb_time``, for a
    thumbnail)."""
    rows = []
    for vid, present in snapshot.coverage.items():
        mine = present.get(label, ())
        if not mine:
            continue
        video = snapshot.videos[vid]
        seconds = covered_seconds(mine)
        longest = max(mine, key=lambda s: (s.end - s.start, -s.start))
        rows.append({"video_id": vid, "name": video.path.name, "path": shown_path(video.path),
                     "thumb_time": round((longest.start + longest.end) / 2, 6),
                     "duration": video.duration, "screen_time": round(seconds, 6),
                     "share": seconds / video.duration if video.duration else 0.0,
                     "spans": merged_spans(mine, video.duration),
                     "segments": [_segment_row(s, video.duration) for s in mine]})
    return sorted(rows, key=lambda r: (-r["screen_time"], r["name"]))


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


def top_labels(taxonomy: Any, present: dict[str, Sequence[Any]], limit: int = 4) -> list[dict[str, Any]]:
    """The labels of one video (label -> coverage pieces) with the most screen time."""
    ranked = sorted(present, key=lambda lab: (-covered_seconds(present[lab]), lab))[:limit]
    cats = {c.id: c for c in taxonomy.categories}
    return [{"id": lab, "name": cats[lab].name if lab in cats else lab, "is_category": lab in cats,
             "restricted": lab in cats and cats[lab].restricted,
             "colour": label_colour(lab, category_colours(taxonomy.ids))}
            for lab in ranked]


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
