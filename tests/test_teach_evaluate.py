"""Tests of search.teach.evaluate (and indexer.labels.truth / quality): figures by hand."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from teachworld import CURATOR, SyntheticEncoder, taxonomy

from indexer.labels.classify import LabelModel
from indexer.labels.names import label_resolver
from indexer.labels.quality import boundary_errors, expected_calibration_error
from indexer.labels.segments import label_segments
from indexer.labels.truth import frame_truth
from indexer.models.loading import encoder_spec
from indexer.store import NewVideo, Store, curation, reviews
from indexer.types import ShotCut, VideoInfo
from search.teach.evaluate import eval_report


def test_truth_from_curator_actions() -> None:
    times = np.arange(10) * 0.5
    seg = lambda start, end, source, status: SimpleNamespace(label="sea", start=start, end=end,  # noqa: E731
                                                             source=source, status=status)
    active = [seg(0.0, 2.5, "curator", "active"), seg(3.0, 5.0, "auto", "active")]
    rejected = seg(3.0, 5.0, "curator", "rejected")
    truth = frame_truth(times, "sea", active + [rejected], reviewed=False)
    assert truth.positive.tolist() == [True] * 5 + [False] * 5
    assert truth.known.tolist() == [True] * 5 + [False] + [True] * 4
    assert truth.spans == ((0.0, 2.5),)
    reviewed = frame_truth(times, "sea", active, reviewed=True)
    assert reviewed.known.all() and reviewed.negatives == 5


def test_quality_figures_by_hand() -> None:
    assert boundary_errors([(0.0, 2.5), (10, 11)], [(0.0, 2.0), (2.2, 2.4)], fps=25) == [0.0, 12.5]
    # bins: 0.05 (truth 0), 0.15 (1) -> bin 0 and 1; 0.95, 0.85 (1, 1) -> bins 9 and 8
    ece = expected_calibration_error(np.array([0.05, 0.15, 0.95, 0.85]), np.array([0, 1, 1, 1], bool))
    assert ece == pytest.approx((0.05 + 0.85 + 0.05 + 0.15) / 4)


def _hand_store(tmp_path: Path) -> tuple[Store, SyntheticEncoder]:
    """One 5 s video at 25 fps, frames every 0.5 s exactly on the class centres: sea, sea, sea,
    sea | street, street | sea x 4, cuts at 2.0 and 3.0."""
    enc = SyntheticEncoder()
    store = Store.open(tmp_path / "data")
    store.bind_encoder(enc.name, enc.dim, encoder_spec(enc))
    curation.add_user(store, CURATOR, "password123")
    classes = ["sea"] * 4 + ["street"] * 2 + ["sea"] * 4
    vectors = np.stack([enc.centres[c] for c in classes]).astype(np.float32)
    times = np.arange(10) * 0.5
    cuts = [ShotCut(2.0, 50, 1.0), ShotCut(3.0, 75, 1.0)]
    model = LabelModel.build(taxonomy(), enc)
    segments = label_segments(model, times, vectors, [2.0, 3.0], 5.0, 0.5)
    assert [(s.label, s.start, s.end) for s in segments] == [("sea", 0.0, 2.0), ("sea", 3.0, 5.0)]
    info = VideoInfo(Path("/v.mp4"), 5.0, Fraction(25), 64, 36, 0, 0.0, "h264")
    store.write_video(NewVideo(Path("/v.mp4"), "h", 1, 1.0, info, 0.5), times, (times * 25).astype(int),
                      vectors, cuts, segments)
    return store, enc


def test_eval_matches_a_hand_computed_example(tmp_path: Path) -> None:
    store, enc = _hand_store(tmp_path)
    with store:
        curation.add(store, 1, CURATOR, "sea", 0.0, 2.5, resolve=label_resolver(taxonomy()))  # sea really lasts until 2.5 s
        late = next(s for s in store.segments(1) if s.start == 3.0)
        curation.reject(store, late.id, CURATOR)  # and is not there after the cut at 3.0
        report = eval_report(store, taxonomy(), enc, "sea").to_dict()
    sea = report["categories"][0]
    # judged frames: 0, 0.5, 1, 1.5, 2 positive; 3, 3.5, 4, 4.5 negative (2.5 unknown)
    assert (sea["judgements"], sea["positive_frames"], sea["negative_frames"]) == (2, 5, 4)
    zs = sea["zero_shot"]
    # predicted: 0-1.5 and 3-4.5 -> tp 4, fn 1 (frame 2.0 is street), fp 4
    assert (zs["tp"], zs["fp"], zs["fn"]) == (4, 4, 1)
    assert zs["precision"] == 0.5 and zs["recall"] == 0.8 and zs["f1"] == pytest.approx(2 * 0.4 / 1.3)
    # truth 0-2.5 against prediction 0-2.0: start 0 frames off, end 0.5 s x 25 fps = 12.5 frames
    assert zs["boundary_error_median"] == pytest.approx(6.25)
    assert zs["boundary_error_p90"] == pytest.approx(11.25)
    # scores ~1 on the 8 sea frames (4 of them positive), ~0 on the positive street frame
    assert zs["ece"] == pytest.approx((8 * 0.5 + 1) / 9, abs=1e-3)
    assert sea["learned"] is None and report["overall"]["zero_shot"]["f1"] == zs["f1"]


def test_reviewed_mark_accepts_what_is_left_and_judges_the_rest(tmp_path: Path) -> None:
    store, enc = _hand_store(tmp_path)
    with store:
        accepted = reviews.mark_reviewed(store, 1, "sea", CURATOR)
        assert [(s.start, s.end, s.source) for s in accepted] == [(0.0, 2.0, "curator"), (3.0, 5.0, "curator")]
        assert store.teaching.reviewed() == {(1, "sea")}
        sea = eval_report(store, taxonomy(), enc, "sea").get("sea")
        assert (sea.judgements, sea.positives, sea.negatives) == (3, 8, 2)
        assert sea.zero_shot.counts.f1 == 1.0
        assert reviews.unmark_reviewed(store, 1, "sea", CURATOR) and not store.teaching.reviewed()
