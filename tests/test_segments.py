"""Tests for indexer.labels.segments: smoothing, cut-exact boundaries, gap merge, blip drop, reports."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.labels.classify import LabelModel
from indexer.models.colour import COLOURS
from indexer.labels.segments import build_segments, label_segments, make_report, summarize_labels
from indexer.labels.taxonomy import parse_taxonomy
from indexer.types import Segment
from media import Scene, make_video

NTSC = Fraction(30000, 1001)


def sample(frame_times, cut_times, every: float, shot_aware: bool = True) -> list[int]:
    """Indices of sampled frames, by the FrameScanner rule: the first frame at or after each
    multiple of ``every``, plus (shot-aware) the first frame of every shot."""
    cuts = set(cut_times)
    chosen, target = [], 0.0
    for i, t in enumerate(frame_times):
        if t >= target - 1e-9 or (shot_aware and t in cuts):
            chosen.append(i)
        while target <= t + 1e-9:
            target += every
    return chosen


def truth_flags(scenes, frame_times, indices, colour: str) -> np.ndarray:
    labels = [s.colour for s in scenes for _ in range(s.frames)]
    return np.array([labels[i] == colour for i in indices])


def flags_from(times: np.ndarray, spans) -> np.ndarray:
    return np.array([any(a <= t < b for a, b in spans) for t in times])


def build(times, flags, cuts=(), duration=None, every=0.5, **kw) -> list[Segment]:
    times = np.asarray(times, dtype=float)
    flags = np.asarray(flags, dtype=bool)
    scores = np.where(flags, 0.9, 0.1)
    duration = times[-1] + every if duration is None else duration
    return build_segments("x", times, scores, flags, list(cuts), duration, every, **kw)


# ----------------------------------------------------------------------------- boundaries


SCENES = [Scene("red", 45), Scene("blue", 20), Scene("red", 17), Scene("green", 61), Scene("red", 31),
          Scene("blue", 50)]


def frame_truth(scenes, fps=NTSC):
    n = sum(s.frames for s in scenes)
    times = [float(Fraction(k) / fps) for k in range(n + 1)]
    starts = np.cumsum([0] + [s.frames for s in scenes])
    cuts = [times[k] for k in starts[1:-1]]
    spans = [(s.colour, times[a], times[a + s.frames]) for s, a in zip(scenes, starts)]
    return times[:-1], cuts, spans, times[-1]


@pytest.mark.parametrize("shot_aware", [True, False])
def test_boundaries_snap_exactly_to_cuts(shot_aware: bool) -> None:
    frame_times, cuts, spans, duration = frame_truth(SCENES)
    idx = sample(frame_times, cuts, 0.5, shot_aware)
    times = np.array([frame_times[i] for i in idx])
    segs = build(times, truth_flags(SCENES, frame_times, idx, "red"), cuts, duration)
    expected = [(a, b) for colour, a, b in spans if colour == "red"]
    assert [(s.start, s.end) for s in segs] == expected
    assert all(s.start_uncertainty == 0 and s.end_uncertainty == 0 for s in segs)
    assert segs[0].start == 0.0


def test_boundary_between_samples_without_cut() -> None:
    times = np.arange(0, 10, 0.5)
    true_start, true_end = 1.8, 5.3  # the label changes without a cut
    segs = build(times, (times >= true_start) & (times < true_end), duration=10.0)
    assert len(segs) == 1
    seg = segs[0]
    assert (seg.start, seg.start_uncertainty) == (1.75, 0.25)
    assert (seg.end, seg.end_uncertainty) == (5.25, 0.25)
    assert abs(seg.start - true_start) <= seg.start_uncertainty
    assert abs(seg.end - true_end) <= seg.end_uncertainty
    assert 1.5 < seg.start < 2.0 and 5.0 < seg.end < 5.5


def test_boundary_inside_a_dissolve_is_its_middle_with_half_its_length() -> None:
    times = np.arange(0, 10, 0.5)
    flags = times <= 3.5  # the label's shot dissolves into the next one from 3.6 to 4.8 s
    [seg] = build(times, flags, cuts=[(3.6, 4.8), 7.0], duration=10.0)
    assert (seg.start, seg.start_uncertainty) == (0.0, 0.0)
    assert seg.end == pytest.approx(4.2) and seg.end_uncertainty == pytest.approx(0.6)
    [after] = build(times, ~flags, cuts=[(3.6, 4.8)], duration=10.0)
    assert after.start == pytest.approx(4.2) and after.start_uncertainty == pytest.approx(0.6)
    # without the transition: the midpoint between the samples, half their gap
    [plain] = build(times, flags, cuts=[7.0], duration=10.0)
    assert (plain.end, plain.end_uncertainty) == (3.75, 0.25)


def test_a_label_seen_only_inside_a_transition_is_no_segment() -> None:
    times = np.arange(0, 10, 0.5)
    flags = times == 4.0  # one sample in the middle of a dissolve
    assert build(times, flags, cuts=[(3.6, 4.4)], duration=10.0, min_length=0) == []


def test_label_over_whole_video_spans_zero_to_duration() -> None:
    times = np.arange(0, 10, 0.5)
    segs = build(times, np.ones(times.size, bool), duration=10.02)
    assert [(s.start, s.end) for s in segs] == [(0.0, 10.02)]


def test_two_sample_run_keeps_its_boundaries() -> None:
    times = np.arange(0, 10, 0.5)
    segs = build(times, (times >= 4.0) & (times <= 4.5))
    assert [(s.start, s.end) for s in segs] == [(3.75, 4.75)]


# ----------------------------------------------------------------------------- smoothing, gaps, blips


def test_single_sample_blip_inside_a_shot_is_dropped() -> None:
    times = np.arange(0, 10, 0.5)
    assert build(times, times == 4.0) == []


def test_single_sample_hole_inside_a_shot_is_filled() -> None:
    times = np.arange(0, 10, 0.5)
    segs = build(times, (times >= 2.0) & (times != 4.0) & (times < 7.0))
    assert [(s.start, s.end) for s in segs] == [(1.75, 6.75)]


def test_median_smoothing_alone_stays_within_shots() -> None:
    times = np.arange(0, 10, 0.5)
    off = {"min_length": 0.0, "max_gap": 0.0}  # no merge, no drop: only the median filter acts
    assert build(times, times == 4.0, **off) == []
    flags = (times >= 2.0) & (times != 4.0) & (times < 7.0)
    assert [(s.start, s.end) for s in build(times, flags, **off)] == [(1.75, 6.75)]
    # the window never reaches across a cut: the hole at 4.0 (a one-sample shot) stays
    segs = build(times, flags, cuts=[4.0, 4.5], **off)
    assert [(s.start, s.end) for s in segs] == [(1.75, 4.0), (4.5, 6.75)]
    # a tie at a shot edge keeps the sample's own flag
    segs = build(times, times == 1.5, cuts=[1.0, 2.0], **off)
    assert [(s.start, s.end, s.start_uncertainty) for s in segs] == [(1.25, 2.0, 0.25)]


def test_blip_at_a_cut_but_not_bounded_is_dropped() -> None:
    times = np.array([0.0, 0.5, 1.0, 1.3, 1.8, 2.3, 2.8])  # shot-aware sample at the cut 1.3
    assert build(times, times == 1.3, cuts=[1.3]) == []


def test_short_shot_bounded_by_cuts_survives() -> None:
    frame_times, cuts, spans, duration = frame_truth([Scene("blue", 60), Scene("red", 30), Scene("blue", 60)])
    idx = sample(frame_times, cuts, 0.5)
    times = np.array([frame_times[i] for i in idx])
    segs = build(times, truth_flags([Scene("blue", 60), Scene("red", 30), Scene("blue", 60)],
                                    frame_times, idx, "red"), cuts, duration)
    assert [(s.start, s.end) for s in segs] == [(spans[1][1], spans[1][2])]
    # a one-sample shot between two cuts is real too
    times = np.array([0.0, 0.5, 1.0, 1.2, 1.5, 2.0])
    segs = build(times, times == 1.2, cuts=[1.2, 1.4])
    assert [(s.start, s.end, s.end_uncertainty) for s in segs] == [(1.2, 1.4, 0.0)]


def test_gap_merge() -> None:
    times = np.arange(0, 12, 0.5)
    flags = (times >= 1.0) & (times < 9.0) & ~((times >= 4.0) & (times < 5.0))  # two-sample hole
    assert len(build(times, flags)) == 2  # 1.0 s gap is not shorter than max_gap = 1.0
    merged = build(times, flags, max_gap=1.5)
    assert [(s.start, s.end) for s in merged] == [(0.75, 8.75)]
    # a dropout on the first sample after a cut is bridged by default
    times = np.array([0.0, 0.5, 1.0, 1.2, 1.7, 2.2, 2.7, 3.2])
    segs = build(times, times != 1.2, cuts=[1.2])
    assert [(s.start, s.end) for s in segs] == [(0.0, 3.7)]


def test_gap_that_is_a_whole_shot_is_not_merged() -> None:
    scenes = [Scene("red", 45), Scene("blue", 12), Scene("red", 45)]
    frame_times, cuts, spans, duration = frame_truth(scenes)
    idx = sample(frame_times, cuts, 0.5)
    times = np.array([frame_times[i] for i in idx])
    segs = build(times, truth_flags(scenes, frame_times, idx, "red"), cuts, duration, max_gap=2.0)
    assert [(s.start, s.end) for s in segs] == [(a, b) for c, a, b in spans if c == "red"]


def test_score_is_mean_probability_of_the_run() -> None:
    times = np.arange(0, 5, 0.5)
    flags = (times >= 1.0) & (times < 3.0)
    scores = np.where(flags, np.linspace(0.6, 1.0, times.size), 0.1)
    seg = build_segments("x", times, scores, flags, [], 5.0, 0.5)[0]
    assert seg.score == pytest.approx(scores[flags].mean())


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        build_segments("x", np.array([0.0, 0.5]), np.array([0.1]), np.array([True, True]), [], 1.0, 0.5)
    with pytest.raises(ValueError):
        build_segments("x", np.array([0.5, 0.0]), np.zeros(2), np.ones(2, bool), [], 1.0, 0.5)
    with pytest.raises(ValueError):
        build_segments("x", np.array([0.0]), np.zeros(1), np.ones(1, bool), [], 1.0, 0.0)
    assert build_segments("x", np.zeros(0), np.zeros(0), np.zeros(0, bool), [], 0.0, 0.5) == []


# ----------------------------------------------------------------------------- generated videos


VFR = [Fraction(1, 30)] * 40 + [Fraction(1, 24)] * 50 + [Fraction(1, 60)] * 70 + [Fraction(1, 25)] * 40


@pytest.mark.parametrize("fps,durations", [(NTSC, None), (Fraction(25), None), (Fraction(30), VFR)],
                         ids=["29.97", "25", "vfr"])
def test_timing_accuracy_against_generated_video(tmp_path: Path, fps, durations, colour_encoder) -> None:
    scenes = [Scene("blue", 37), Scene("red", 53), Scene("green", 29), Scene("red", 41), Scene("blue", 40)]
    video = make_video(tmp_path / "v.mp4", scenes, fps=fps, frame_durations=durations)
    idx = sample(video.frame_times, video.cut_times, 0.5)
    times = np.array([video.frame_times[i] for i in idx])
    colours = [s.colour for s in scenes for _ in range(s.frames)]
    images = np.stack([np.full((32, 32, 3), COLOURS[colours[i]], np.uint8) for i in idx])
    model = LabelModel.build(parse_taxonomy(
        'background = ["a photo", "a video frame", "a person", "text on a screen"]\n'
        '[[category]]\nid = "red"\nprompts = ["red", "a red scene"]\n'
        '[[category]]\nid = "warm"\nprompts = ["red", "orange"]\n', Path("t.toml")), colour_encoder)
    segs = label_segments(model, times, colour_encoder.encode_images(images), video.cut_times,
                          video.duration, 0.5)
    frame = float(1 / fps) if durations is None else float(max(durations))
    truth = [(a, b) for c, a, b in video.scene_spans if c == "red"]
    red = [s for s in segs if s.label == "red"]
    assert len(red) == len(truth)
    for seg, (a, b) in zip(red, truth):
        assert abs(seg.start - a) <= frame and abs(seg.end - b) <= frame
    # multi-label: "warm" covers exactly the same spans
    assert [(s.start, s.end) for s in segs if s.label == "warm"] == [(s.start, s.end) for s in red]
    report = make_report("red", segs, video.duration)
    assert report.contains and abs(report.first_appearance - truth[0][0]) <= frame
    true_total = sum(b - a for a, b in truth)
    assert abs(report.total_duration - true_total) <= 2 * frame
    assert report.share == pytest.approx(report.total_duration / video.duration)


# ----------------------------------------------------------------------------- reports


def seg(label: str, start: float, end: float, score: float = 0.8) -> Segment:
    return Segment(label=label, start=start, end=end, score=score)


def test_report_counts_overlaps_once_and_ignores_other_labels() -> None:
    segments = [seg("a", 5.0, 8.0), seg("b", 0.0, 20.0), seg("a", 2.0, 4.0), seg("a", 7.0, 9.0)]
    report = make_report("a", segments, 20.0)
    assert report.contains and report.first_appearance == 2.0
    assert report.total_duration == pytest.approx(2.0 + 4.0)
    assert report.share == pytest.approx(6.0 / 20.0)
    assert [s.start for s in report.segments] == [2.0, 5.0, 7.0]
    assert report.to_dict()["segments"][0] == {"label": "a", "start": 2.0, "end": 4.0, "start_hms": "00:00:02.000",
                                               "end_hms": "00:00:04.000", "score": 0.8, "start_uncertainty": 0.0,
                                               "end_uncertainty": 0.0, "source": "auto"}


def test_report_for_absent_label() -> None:
    report = make_report("a", [seg("b", 0.0, 1.0)], 10.0)
    assert (report.contains, report.first_appearance, report.total_duration, report.share) == (False, None, 0.0, 0.0)
    with pytest.raises(ValueError):
        make_report("a", [], -1.0)


def test_summarize_labels_best_first() -> None:
    reports = summarize_labels([seg("a", 0, 1), seg("b", 0, 5), seg("c", 2, 4), seg("a", 3, 4)], 10.0)
    assert [(r.label, r.total_duration) for r in reports] == [("b", 5.0), ("a", 2.0), ("c", 2.0)]
