"""View models for the video page's timeline: one lane per label, one lane for shots.

Everything is positioned to scale as percentages of the video's duration, so the template
only writes ``left``/``width`` styles; the JavaScript adds seeking and the playhead.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

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


#: Distinct, readable colours (Tableau 10) for top-level categories, in taxonomy order.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
           "#9c755f", "#ff9da7", "#5f6b7a")


def _shade(hex_colour: str, lighten: float, hue_shift: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    h, lum, sat = colorsys.rgb_to_hls(r, g, b)
    r, g, b = colorsys.hls_to_rgb((h + hue_shift) % 1.0, min(0.8, lum + lighten), sat)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4], "big")


@functools.lru_cache(maxsize=8)
def category_colours(category_ids: tuple[str, ...]) -> dict[str, str]:
    """Colour per category: top-level ones get distinct palette colours in order; children
    are lighter shades of their top-level colour."""
    colours: dict[str, str] = {}
    tops = [cid for cid in category_ids if "/" not in cid]
    for i, top in enumerate(tops):
        colours[top] = PALETTE[i % len(PALETTE)]
    for cid in category_ids:
        if cid not in colours:
            base = colours.get(cid.split("/", 1)[0], PALETTE[_hash(cid) % len(PALETTE)])
            colours[cid] = _shade(base, 0.1 + 0.05 * cid.count("/"), (_hash(cid) % 9 - 4) / 120)
    return colours


def label_colour(label: str, colours: Mapping[str, str] | None = None) -> str:
    """The label's colour from ``colours`` (see :func:`category_colours`); free-text tags get
    a stable palette colour from a hash of the text."""
    if colours and label in colours:
        return colours[label]
    return _shade(PALETTE[_hash(label) % len(PALETTE)], 0.05, 0.0)


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
                  restricted: frozenset[str] = frozenset(),
                  colours: Mapping[str, str] | None = None) -> list[Lane]:
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
        lanes.append(Lane(key=label, name=names.get(label, label), colour=label_colour(label, colours),
                          blocks=blocks, total=covered_seconds(active),
                          restricted=label in restricted, is_category=label in names))
    return lanes


class TransitionLike(Protocol):
    """What the shots lane needs of a gradual transition (indexer.types.Transition)."""

    kind: str
    start: float
    end: float


_KIND_NAMES = {"fade_out": "fade out", "fade_in": "fade in", "dissolve": "dissolve"}


def shot_lane(cuts: Sequence[float], duration: float, transitions: Sequence[TransitionLike] = ()) -> Lane:
    """The shots between cuts and transitions, drawn as alternating blocks; each gradual
    transition is a block of its own (source ``transition``) between the two shots."""
    edges = sorted([(c, c, None) for c in cuts if 0.0 < c < duration]
                   + [(t.start, t.end, t) for t in transitions if t.end > 0.0 and t.start < duration])
    blocks, start, shot = [], 0.0, 0
    for first, last, transition in edges + [(duration, duration, None)]:
        if first > start:
            shot += 1
            blocks.append(make_block(start, first, duration,
                                     f"shot {shot}: {format_timestamp(start)}–{format_timestamp(first)}"))
        if transition is not None:
            name = _KIND_NAMES.get(transition.kind, transition.kind)
            blocks.append(make_block(max(first, 0.0), min(last, duration), duration,
                                     f"{name}: {format_timestamp(max(first, 0.0))}–{format_timestamp(min(last, duration))}",
                                     source="transition"))
        start = max(start, last)
    return Lane(key="__shots__", name="Shots", colour="", blocks=tuple(blocks), total=duration,
                is_category=False)


def _tick_label(seconds: float, duration: float) -> str:
    stamp = format_timestamp(seconds)  # HH:MM:SS.mmm
    if duration >= 3600:
        return stamp[:8]
    if duration >= 60:
        return stamp[3:8]
    return stamp[3:10] if duration < 20 else stamp[3:8]


def tick_marks(duration: float, count: int = 8) -> list[tuple[float, str]]:
    """Evenly spaced (percent, label) marks for the time ruler (precision fits the duration)."""
    if duration <= 0:
        return []
    return [(100.0 * i / count, _tick_label(duration * i / count, duration)) for i in range(count + 1)]
