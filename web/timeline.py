"""View models for the video page's timeline: one lane per label, one lane for shots.

Everything is positioned to scale as percentages of the video's duration, so the template
only writes ``left``/``width`` styles; the JavaScript adds seeking and the playhead.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
from dataclasses import dataclass, replace
from typing import Mapping, Protocol, Sequence

from indexer.store.coverage import covered_seconds
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
    status: str = "active"  # or "rejected", or "derived" (a sub-category's piece)
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
    depth: int = 0  # number of ancestor lanes shown above it (nested under them)
    nested: int = 0  # blocks left out because sub-category lanes below show them
    covered: tuple[Block, ...] = ()  # those blocks (drawn as a thin outline, not as segments)
    first: float | None = None  # first appearance (start of the earliest active block)


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


def segment_lanes(present: Mapping[str, Sequence[SegmentLike]], rejected: Sequence[SegmentLike],
                  duration: float, names: dict[str, str], restricted: frozenset[str] = frozenset(),
                  colours: Mapping[str, str] | None = None) -> list[Lane]:
    """One lane per label, in first-appearance order: its coverage pieces (label -> pieces, see
    :mod:`indexer.store.coverage`) and the given ``rejected`` segments (shown dim). A piece of a
    sub-category's segment is drawn as "derived" and edited in its own lane."""
    by_label: dict[str, list[SegmentLike]] = {label: list(pieces) for label, pieces in present.items()}
    for seg in rejected:
        by_label.setdefault(seg.label, []).append(seg)
    lanes = []
    for label, segs in sorted(by_label.items(), key=lambda kv: (min(s.start for s in kv[1]), kv[0])):
        blocks = tuple(_block(label, s, duration, names) for s in sorted(segs, key=lambda s: (s.start, s.end)))
        lanes.append(Lane(key=label, name=names.get(label, label), colour=label_colour(label, colours),
                          blocks=blocks, total=covered_seconds(present.get(label, ())),
                          restricted=label in restricted, is_category=label in names,
                          first=min((s.start for s in present.get(label, ())), default=None)))
    return lanes


def _block(label: str, seg: SegmentLike, duration: float, names: dict[str, str]) -> Block:
    own = seg.label == label
    status = seg.status if own else "derived"
    what = seg.source if own else f"from {names.get(seg.label, seg.label)}"
    return make_block(seg.start, seg.end, duration,
                      f"{names.get(label, label)}: {format_timestamp(seg.start)}–{format_timestamp(seg.end)}"
                      f" ({what}{', rejected' if status == 'rejected' else ''})",
                      segment_id=seg.id if own else None, source=seg.source, status=status,
                      score=seg.score)


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


def _within(start: float, end: float, spans: Sequence[tuple[float, float]], slack: float) -> bool:
    """Whether [start, end] lies inside the union of ``spans`` (gaps up to ``slack`` ignored)."""
    reach = start
    for a, b in sorted(spans):
        if a > reach + slack:
            break
        reach = max(reach, b)
        if reach >= end - slack:
            return True
    return reach >= end - slack


def nest_lanes(lanes: Sequence[Lane], slack: float = 0.002) -> list[Lane]:
    """Parent and child lanes without duplicates: each lane is nested (``depth``) under the
    ancestor lanes present, and a parent drops the active blocks that its descendants' lanes
    already cover (counted in ``nested``); the parent keeps its total and its own evidence.
    Lanes keep their order (parents come first in taxonomy order)."""
    keys = {lane.key for lane in lanes}
    nested = []
    for lane in lanes:
        depth = sum(1 for i, ch in enumerate(lane.key) if ch == "/" and lane.key[:i] in keys)
        below = [(b.start, b.end) for other in lanes
                 if lane.is_category and other.is_category and other.key.startswith(lane.key + "/")
                 for b in other.blocks if b.status != "rejected"]
        keep = tuple(b for b in lane.blocks
                     if b.status == "rejected" or not below or not _within(b.start, b.end, below, slack))
        covered = tuple(b for b in lane.blocks if b not in keep)
        nested.append(replace(lane, blocks=keep, depth=depth if lane.is_category else 0,
                              nested=len(covered), covered=covered))
    return nested


REPORT_COLOUR = "#2f5bd3"


def report_lane(label: str, segments: Sequence[Mapping[str, object]], duration: float) -> Lane:
    """The segments of a report (``video_report(...).to_json()['segments']``) as a lane."""
    blocks = tuple(
        make_block(float(s["start"]), float(s["end"]), duration,
                   f"{label}: {format_timestamp(float(s['start']))}–{format_timestamp(float(s['end']))}",
                   source=str(s.get("source") or "auto"), score=float(s.get("score") or 0.0))
        for s in segments)
    return Lane(key="__report__", name=f"Report: {label}", colour=REPORT_COLOUR, blocks=blocks,
                total=covered_seconds(blocks), is_category=False)
