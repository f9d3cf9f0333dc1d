"""View models of one video: metadata, timeline lanes, curator rows, audit entries.

Shared by the video page and ``GET /api/videos/<id>`` so both show the same thing.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from indexer.store.coverage import label_tree, video_coverage
from indexer.types import format_timestamp

from .archive import shown_path
from .ruler import ruler_ticks
from .timeline import (category_colours, label_colour, nest_lanes, report_lane, segment_lanes,
                       shot_lane)


def fps_label(fps: Any) -> str:
    """'29.97 fps (30000/1001)' for an exact fraction; 'fps unknown' for None."""
    if fps is None:
        return "fps unknown"
    exact = f" ({fps.numerator}/{fps.denominator})" if fps.denominator != 1 else ""
    return f"{float(fps):.3f}".rstrip("0").rstrip(".") + " fps" + exact


def video_dict(video: Any) -> dict[str, Any]:
    """JSON-able metadata of a VideoRecord."""
    return {"id": video.id, "name": video.path.name, "path": shown_path(video.path),
            "duration": video.duration, "duration_hms": format_timestamp(video.duration),
            "fps": None if video.fps is None else f"{video.fps.numerator}/{video.fps.denominator}",
            "fps_label": fps_label(video.fps), "width": video.width, "height": video.height,
            "rotation": video.rotation, "start_time": video.start_time, "codec": video.codec,
            "sample_every": video.sample_every, "status": video.status, "note": video.note,
            "indexed_at": video.indexed_at, "content_hash": video.content_hash, "size": video.size}


def segment_dict(seg: Any, colours: Mapping[str, str] | None = None) -> dict[str, Any]:
    """JSON-able form of a SegmentRecord: its one shape (``to_dict``) with its label's colour."""
    return {**seg.to_dict(), "colour": label_colour(seg.label, colours)}


def _short(value: Any) -> str:
    """A compact one-line view of an audit before/after value."""
    if value in (None, "", {}):
        return "–"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        keys = ("label", "start", "end", "status", "source")
        parts = [f"{k}={value[k]:.3f}" if isinstance(value.get(k), float) else f"{k}={value[k]}"
                 for k in keys if k in value]
        return ", ".join(parts) or json.dumps(value, sort_keys=True)
    return str(value)


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def audit_dict(entry: Any) -> dict[str, Any]:
    """JSON-able form of one audit log entry (object or mapping), plus display strings."""
    at = _field(entry, "at")
    before, after = _field(entry, "before"), _field(entry, "after")
    when = datetime.fromtimestamp(at, tz=timezone.utc) if isinstance(at, (int, float)) else None
    return {"id": _field(entry, "id"), "at": at, "user": _field(entry, "user"),
            "action": _field(entry, "action"), "video_id": _field(entry, "video_id"),
            "segment_id": _field(entry, "segment_id"), "before": before, "after": after,
            "at_label": when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else str(at),
            "before_label": _short(before), "after_label": _short(after)}


def timeline(video: Any, segments: list[Any], cuts: list[float], taxonomy: Any,
             *, show_rejected: bool, report: Mapping[str, Any] | None = None,
             transitions: Sequence[Any] = ()) -> dict[str, Any]:
    """Lanes (labels present, :mod:`indexer.store.coverage`, in taxonomy order, children nested
    under their parents, then tags; rejected segments too if ``show_rejected``), the report's
    lane (None without a report), the shots lane (cuts and ``transitions``) and the ruler.
    ``segments``: all the video's segments, rejected ones included (they decide the coverage)."""
    names = {c.id: c.name for c in taxonomy.categories}
    restricted = frozenset(c.id for c in taxonomy.categories if c.restricted)
    present = video_coverage(segments, label_tree(taxonomy.ids))
    rejected = [s for s in segments if show_rejected and s.status == "rejected"]
    lanes = segment_lanes(present, rejected, video.duration, names, restricted,
                          category_colours(taxonomy.ids))
    order = {cid: i for i, cid in enumerate(taxonomy.ids)}
    lanes.sort(key=lambda lane: (order.get(lane.key, len(order)), lane.key))
    drawn = None if report is None else report_lane(str(report["label"]), report["segments"], video.duration)
    return {"lanes": nest_lanes(lanes), "report_lane": drawn,
            "shots": shot_lane(cuts, video.duration, transitions),
            "ticks": ruler_ticks(video.duration)}
