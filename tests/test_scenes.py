"""Scene grouping (search.scenes): merging across gaps, snapping to cuts, splitting at non-hit shots."""

from __future__ import annotations

import numpy as np
import pytest

from search.scenes import Scene, attach_labels, group_scenes, standing_frame, video_score


def _frames(duration: float, every: float = 0.5, cuts: tuple[float, ...] = ()):
    """Sampled times every `every` seconds plus one frame at each cut (shot-aware sampling)."""
    times = np.unique(np.concatenate([np.arange(0, duration, every), np.array(cuts, dtype=float)]))
    return times


def _group(times, hit_spans, cuts, duration, max_gap=1.0, scores=None):
    hits = np.zeros(len(times), dtype=bool)
    for lo, hi in hit_spans:
        hits |= (times >= lo) & (times < hi)
    scores = np.where(hits, 0.9, 0.1) if scores is None else scores
    return group_scenes(times, scores, hits, cuts, duration, every=0.5, max_gap=max_gap)


def test_scene_snaps_to_the_cuts_around_a_matching_shot():
    cuts = (3.3, 7.1)
    times = _frames(10.0, cuts=cuts)
    scenes = _group(times, [(3.3, 7.1)], cuts, 10.0)
    assert [(s.start, s.end) for s in scenes] == [(3.3, 7.1)]
    assert scenes[0].hits == int(((times >= 3.3) & (times < 7.1)).sum())


def test_scene_edges_at_dissolves_are_their_middles():
    # the matching shot dissolves in from 2.9 to 3.7 s and out from 6.8 to 7.4 s
    bounds = ((2.9, 3.7), (6.8, 7.4))
    times = _frames(10.0)
    scenes = _group(times, [(3.5, 7.0)], bounds, 10.0)
    assert [(s.start, s.end) for s in scenes] == [(pytest.approx(3.3), pytest.approx(7.0))]
    # a dissolve in the middle of a scene splits nothing: one matching shot runs into another
    merged = _group(times, [(3.5, 9.9)], bounds, 10.0)
    assert [(s.start, s.end) for s in merged] == [(pytest.approx(3.3), 10.0)]


def test_a_dissolve_middle_past_the_matching_frame_is_clamped():
    times = np.array([0.0, 1.0, 2.0, 3.0])  # a frame at 1.0 s matches; the dissolve's middle is 1.4 s
    scenes = group_scenes(times, np.array([0.1, 0.9, 0.1, 0.1]), np.array([False, True, False, False]),
                          [(0.8, 2.0)], 4.0, every=1.0, max_gap=1.0)
    assert [(s.start, s.best_time) for s in scenes] == [(1.0, 1.0)]


def test_neighbouring_matching_shots_merge():
    cuts = (2.2, 4.4, 6.6)
    times = _frames(9.0, cuts=cuts)
    scenes = _group(times, [(2.2, 6.6)], cuts, 9.0)
    assert [(s.start, s.end) for s in scenes] == [(2.2, 6.6)]


def test_a_short_non_matching_shot_between_splits():
    # shot [4.0, 4.3) has one sampled frame (its shot start) that does not match: the gap
    # between the hits (3.5 -> 4.3) is within max_gap, but the shot splits the scenes.
    cuts = (2.0, 4.0, 4.3, 6.0)
    times = _frames(8.0, cuts=cuts)
    scenes = _group(times, [(2.0, 4.0), (4.3, 6.0)], cuts, 8.0, max_gap=1.0)
    assert [(s.start, s.end) for s in scenes] == [(2.0, 4.0), (4.3, 6.0)]


def test_short_gap_inside_a_shot_is_bridged_long_gap_is_not():
    times = _frames(20.0)
    spans = [(2.0, 4.0), (4.5, 6.0), (10.0, 12.0)]  # one miss at 4.0; 6.0..10.0 is a long miss
    scenes = _group(times, spans, (), 20.0, max_gap=1.0)
    assert len(scenes) == 2
    first, second = scenes
    # No cut: boundaries are midpoints between the last miss and the first hit (+/- every/2).
    assert (first.start, first.end) == (1.75, 5.75)
    assert (second.start, second.end) == (9.75, 11.75)


def test_scene_reaching_the_ends_covers_the_video_edges():
    times = _frames(5.0)
    scenes = _group(times, [(0.0, 5.0)], (), 5.2)
    assert [(s.start, s.end) for s in scenes] == [(0.0, 5.2)]


def test_change_gated_frames_stand_for_the_samples_after_them():
    # Stored frames only where content changed (every=0.5 s sampling): 0, 2 (window), 2.5, 6 and
    # 8.5. The hit at 2.0 stands for samples 2.0..2.0, the frame at 2.5 changed, so the scene ends
    # in (2.0, 2.5]; consecutive hits 0 and 2 merge although 2 s apart.
    times = np.array([0.0, 2.0, 2.5, 6.0, 8.5])
    hits = np.array([True, True, False, True, True])
    scenes = group_scenes(times, hits * 0.9, hits, (), 10.0, every=0.5, max_gap=1.0)
    assert [(s.start, s.end) for s in scenes] == [(0.0, 2.25), (5.75, 10.0)]
    # the non-hit frame at 2.5 stands for 2.5..6.0 (3.5 s > max_gap): no bridging
    # a short non-hit stretch is bridged
    short = np.array([0.0, 0.5, 1.0, 1.5])
    hit2 = np.array([True, False, True, True])
    assert len(group_scenes(short, hit2 * 1.0, hit2, (), 2.0, every=0.5, max_gap=1.0)) == 1


def test_best_frame_and_score():
    times = _frames(6.0)
    scores = np.array([0.1, 0.1, 0.5, 0.8, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    scenes = group_scenes(times, scores, scores > 0.3, (), 6.0, every=0.5, max_gap=1.0)
    assert len(scenes) == 1
    assert scenes[0].best_time == 1.5 and scenes[0].score == pytest.approx(0.8)
    assert video_score(scenes) == pytest.approx(0.8)


def test_unsorted_input_and_no_hits():
    times = _frames(4.0)
    perm = np.random.default_rng(0).permutation(len(times))
    hits = (times >= 1.0) & (times < 2.0)
    scenes = group_scenes(times[perm], hits[perm] * 1.0, hits[perm], (), 4.0, every=0.5, max_gap=1.0)
    assert [(s.start, s.end) for s in scenes] == [(0.75, 1.75)]
    none = np.zeros(len(times), bool)
    assert group_scenes(times, np.zeros(len(times)), none, (), 4.0, every=0.5, max_gap=1) == []


def test_bad_arguments():
    with pytest.raises(ValueError):
        group_scenes(np.zeros(3), np.zeros(2), np.zeros(3, bool), (), 1.0, every=0.5, max_gap=1.0)
    with pytest.raises(ValueError):
        group_scenes(np.zeros(3), np.zeros(3), np.zeros(3, bool), (), 1.0, every=0.0, max_gap=1.0)
    with pytest.raises(ValueError):
        Scene(start=2.0, end=1.0, best_time=1.5, score=0.3)
    with pytest.raises(ValueError):
        video_score([])


def test_attach_labels_orders_by_overlap():
    scene = Scene(start=10.0, end=20.0, best_time=12.0, score=0.5)
    segments = [("beach", 0.0, 11.0), ("people", 9.0, 30.0), ("night", 25.0, 30.0), ("beach", 15.0, 16.0)]
    assert attach_labels(scene, segments).labels == ("people", "beach")


def test_attach_labels_leaves_out_a_segment_that_ends_where_the_scene_starts():
    # a one-frame scene at a cut (2.002 s): the red shot's label ends there, the green one's starts
    scene = Scene(start=2.002, end=2.002, best_time=2.002, score=0.9)
    segments = [("alcohol/wine", 0.0, 2.002), ("places/nature", 2.002, 4.004)]
    assert attach_labels(scene, segments).labels == ("places/nature",)


def test_standing_frame_is_the_latest_stored_frame_of_the_same_shot():
    # stored frames: each shot's first frame (the change gate kept no other), cuts at 2.002 and 3.504
    times = np.array([0.0, 2.002, 3.504])
    cuts = [(2.002, 2.002), (3.504, 3.504)]
    assert standing_frame(times, cuts, 2.9) == 1  # the red shot's frame, though 3.504 is nearer
    assert standing_frame(times, cuts, 2.002) == 1  # a cut's frame starts its shot
    cut = 59 * 1001 / 30000  # 1.96863 s, shown as 1.969
    assert standing_frame(np.array([0.0, cut]), [(cut, cut)], 1.969) == 1
    assert standing_frame(np.array([0.0, cut]), [(cut, cut)], round(cut, 6)) == 1  # a player's rounding
    assert standing_frame(np.array([0.0, cut]), [(cut, cut)], 1.968) == 0  # before the cut
    assert standing_frame(times, cuts, 2.0) == 0
    assert standing_frame(times, cuts, 99.0) == 2
    assert standing_frame(times, [], 1.5) == 0  # one shot: the latest frame at or before


def test_standing_frame_inside_a_transition_and_in_a_shot_without_frames():
    times = np.array([0.0, 1.0, 3.2, 6.0])
    dissolve = [(2.0, 3.0), (5.0, 5.0)]
    assert standing_frame(times, dissolve, 2.8) == 2  # late in the dissolve: the next shot's first frame
    assert standing_frame(times, dissolve, 2.2) == 1  # early in it: the shot before
    assert standing_frame(np.array([0.0, 6.0]), [(2.0, 2.0), (5.0, 5.0)], 4.0) == 1  # no frame in 2..5: nearest
    with pytest.raises(ValueError):
        standing_frame(np.array([]), [], 1.0)
