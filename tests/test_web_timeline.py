"""web/timeline.py: parent and child lanes without duplicates; the report drawn as a lane."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from indexer.store.coverage import label_tree, video_coverage
from web.timeline import nest_lanes, report_lane, segment_lanes


@dataclass(frozen=True)
class Seg:
    id: int
    label: str
    start: float
    end: float
    score: float = 0.9
    source: str = "auto"
    status: str = "active"
    start_uncertainty: float = 0.0
    end_uncertainty: float = 0.0


NAMES = {"warm": "Warm", "warm/red": "Red", "warm/yellow": "Yellow", "cool": "Cool"}


def _lanes(segments):
    present = video_coverage(segments, label_tree(tuple(NAMES)))
    rejected = [s for s in segments if s.status == "rejected"]
    return {lane.key: lane for lane in nest_lanes(segment_lanes(present, rejected, 10.0, NAMES))}


def test_a_parent_drops_the_blocks_its_children_show_and_keeps_its_total():
    lanes = _lanes([Seg(1, "warm", 0.0, 5.0), Seg(2, "warm/red", 0.0, 2.5),
                    Seg(3, "warm/yellow", 2.5, 5.0), Seg(4, "cool", 6.0, 8.0)])
    assert lanes["warm"].blocks == () and lanes["warm"].nested == 3  # its own and its children's
    assert (0.0, 5.0) in [(b.start, b.end) for b in lanes["warm"].covered]
    assert lanes["warm"].total == pytest.approx(5.0) and lanes["warm"].first == 0.0
    assert lanes["warm/red"].depth == 1 and lanes["warm/yellow"].depth == 1
    assert lanes["warm"].depth == 0 and len(lanes["cool"].blocks) == 1


def test_a_parent_keeps_its_own_evidence_and_rejected_blocks():
    lanes = _lanes([Seg(1, "warm", 0.0, 2.0), Seg(2, "warm", 4.0, 9.0),
                    Seg(3, "warm/red", 0.0, 2.0), Seg(4, "warm", 9.5, 10.0, status="rejected"),
                    Seg(5, "warm/yellow", 4.0, 6.0)])
    kept = [(b.start, b.end) for b in lanes["warm"].blocks]
    assert kept == [(4.0, 9.0), (9.5, 10.0)]  # beyond its children; rejected stays visible
    assert all(b.status != "derived" for b in lanes["warm"].blocks)


def test_a_child_alone_still_nests_under_its_derived_parent_and_tags_never_nest():
    lanes = _lanes([Seg(1, "warm/red", 1.0, 2.0), Seg(2, "boat", 0.0, 1.0), Seg(3, "boat/deck", 0.0, 1.0)])
    assert lanes["warm"].blocks == () and lanes["warm"].total == pytest.approx(1.0)
    assert lanes["warm/red"].depth == 1
    assert lanes["boat"].depth == 0 and lanes["boat/deck"].depth == 0  # free-text tags
    assert len(lanes["boat"].blocks) == 1


def test_report_lane_draws_the_report_segments_to_scale():
    lane = report_lane("a red car", [{"start": 1.0, "end": 3.0, "score": 0.8, "source": "auto"},
                                     {"start": 5.0, "end": 6.0, "score": 0.7}], 10.0)
    assert [(b.left, b.width) for b in lane.blocks] == [(10.0, 20.0), (50.0, 10.0)]
    assert lane.total == pytest.approx(3.0) and lane.name == "Report: a red car"
