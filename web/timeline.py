"""View models for the video page's timeline: one lane per label, one lane for shots.

Everything is positioned to scale as percentages of the video's duration, so the template
only writes ``left``/``width`` styles; the JavaScript adds seeking and the playhead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

from indexer.types import format_timestamp


class SegmentLike(Protocol):
    """What the timeline needs of a stored segment (indexer.store.SegmentRecord)."""

    id: int
    label: str
    start: float
    end: float
    score: float
    source: str
    status: str


@dataclass(frozen=True)
class Block:
    """One drawn span of a lane."""

    start: float
    end: float
    left: float  # percent of the duration
    width: float  # percent of the duration
    title: str
    segment_id: int | None = None
    source: str = "auto"
    status: str = "active"
    score: float | None = None


@dataclass(frozen=True)
class Lane:
    """A row of the timeline: a label (category or free-text tag) or the shots."""

    key: str
    name: str
    colour: str
    blocks: tuple[Block, ...]
    total: float  # seconds covered by active blocks (overlaps counted once)
    restricted: bool = False
    is_category: bool = True


def label_colour(label: str) -> str:
    """A stable, readable colour for a label (hue from a hash of the top-level category)."""
    top = label.split("/", 1)[0]
    hue = int.from_bytes(hashlib.sha1(top.encode("utf-8")).digest()[:2], "big") % 360
    lightness = 42 if top == label else 52  # children a little lighter than their parent
    return f"hsl({hue} 62% {lightness}%)"


def _percent(value: float, duration: float) -> float:
    return round(100.0 * min(max(value, 0.0), duration) / duration, 4) if duration > 0 else 0.0


def make_block(start: float, end: float, duration: float, title: str, **extra: object) -> Block:
    """A block positioned to scale; tiny spans keep a visible minimum width."""
    left = _percent(start, duration)
    width = max(_percent(end, duration) - left, 0.25)
    return Block(start=start, end=end, left=left, width=min(width, 100.0 - left), title=title, **extra)


def covered_seconds(spans: Sequence[tuple[float, float]]) -> float:
    """Total length of the union of ``(start, end)`` spans."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def segment_lanes(segments: Sequence[SegmentLike], duration: float, names: dict[str, str],
                  restricted: frozenset[str] = frozenset()) -> list[Lane]:
    """One lane per label, labels in first-appearance order; rejected segments kept (shown dim)."""
    by_label: dict[str, list[SegmentLike]] = {}
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        by_label.setdefault(seg.label, []).append(seg)
    lanes = []
    for label, segs in by_label.items():
        blocks = tuple(
            make_block(s.start, s.end, duration,
                       f"{names.get(label, label)}: {format_timestamp(s.start)}–{format_timestamp(s.end)}"
                       f" ({s.source}{', rejected' if s.status == 'rejected' else ''})",
                       segment_id=s.id, source=s.source, status=s.status, score=s.score)
            for s in segs)
        active = [(s.start, s.end) for s in segs if s.status != "rejected"]
        lanes.append(Lane(key=label, name=names.get(label, label), colour=label_colour(label),
                          blocks=blocks, total=covered_seconds(active),
                          restricted=label in restricted, is_category=label in names))
    return lanes


def shot_lane(cuts: Sequence[float], duration: float) -> Lane:
    """The shots between cuts, drawn as alternating blocks."""
    bounds = [0.0] + sorted(c for c in cuts if 0.0 < c < duration) + [duration]
    blocks = tuple(
        make_block(a, b, duration, f"shot {i + 1}: {format_timestamp(a)}–{format_timestamp(b)}")
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])) if b > a)
    return Lane(key="__shots__", name="Shots", colour="", blocks=blocks, total=duration,
                is_category=False)


def tick_marks(duration: float, count: int = 8) -> list[tuple[float, str]]:
    """Evenly spaced (percent, HH:MM:SS) labels for the time ruler."""
    if duration <= 0:
        return []
    return [(100.0 * i / count, format_timestamp(duration * i / count)[:8]) for i in range(count + 1)]
