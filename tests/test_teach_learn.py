"""Tests of search.teach.learn: learned heads on a synthetic archive where zero-shot is wrong
for some categories (benchmarks/synthetic_labels.py), rollback and the indexing hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from teachworld import CURATOR, HighCosineEncoder, SyntheticEncoder, build_world, judge_video

from benchmarks.synthetic_labels import add_videos
from indexer.errors import NotFoundError
from indexer.labels.truth import inside
from indexer.pipeline.labelling import current_label_model
from indexer.store import curation
from search.teach.learn import learn, models, rollback


def held_out_f1(store, videos, label: str) -> float:
    """F1 of the stored active segments of ``label`` against the known truth, frame by frame."""
    tp = fp = fn = 0
    for v in videos:
        times = store.frame_times(v.id)
        spans = [(s.start, s.end) for s in store.segments(v.id) if s.label == label]
        predicted, truth = inside(np.array(times), spans), v.frame_truth(label)
        tp, fp, fn = tp + int(np.sum(predicted & truth)), fp + int(np.sum(predicted & ~truth)), fn + int(np.sum(~predicted & truth))
    return 2 * tp / (2 * tp + fp + fn)


def curator_rows(store) -> list[tuple]:
    return sorted((s.id, s.video_id, s.label, s.start, s.end, s.status) for v in store.list_videos()
                  for s in store.segments(v.id, include_rejected=True) if s.source == "curator")


def auto_rows(store) -> list[tuple]:
    return sorted((s.video_id, s.label, s.start, s.end, s.score, s.start_uncertainty, s.end_uncertainty, s.status,
                   s.updated_at) for v in store.list_videos() for s in store.segments(v.id) if s.source == "auto")


@pytest.mark.parametrize("encoder_class", [SyntheticEncoder, HighCosineEncoder])
def test_learn_improves_held_out_f1_and_keeps_curator_segments(tmp_path: Path, encoder_class) -> None:
    enc = encoder_class()
    store, tax, videos = build_world(tmp_path / "data", enc)
    with store:
        judged, held_out = videos[:8], videos[8:]
        for v in judged:
            for label in ("sand", "wine"):
                judge_video(store, v, label, CURATOR)
        before = {label: held_out_f1(store, held_out, label) for label in ("sand", "wine")}
        curated = curator_rows(store)
        report = learn(store, tax, enc)
        after = {label: held_out_f1(store, held_out, label) for label in ("sand", "wine")}
        assert {o.label: o.status for o in report.outcomes} == {"sand": "adopted", "wine": "adopted"}
        assert report.run_id is not None
        for label in ("sand", "wine"):
            assert after[label] > before[label] + 0.2, (label, before, after)
        assert curator_rows(store) == curated
        assert set(store.teaching.current_heads()) == {"sand", "wine"}
        heads = store.teaching.current_heads()
        assert heads["sand"].trained_on["videos"] == [v.id for v in judged]


def test_cosines_of_the_high_cosine_encoder_live_in_0_6_to_0_9() -> None:
    enc = HighCosineEncoder()
    frames = enc.frames(["sea", "sand", "snow", "wine", "grape", "street"] * 20, np.random.default_rng(0))
    texts = enc.encode_texts(["the sea", "sand", "wine", "a photo"])
    cos = np.concatenate([(frames @ frames.T)[np.triu_indices(len(frames), 1)], (frames @ texts.T).ravel()])
    low, high = np.percentile(cos, [5, 95])
    assert 0.6 < low < high < 0.9


def test_a_model_no_better_than_zero_shot_is_not_adopted(tmp_path: Path) -> None:
    enc = SyntheticEncoder()
    store, tax, videos = build_world(tmp_path / "data", enc, videos=12)
    with store:
        for v in videos:  # the curator agrees with every automatic sea segment: zero-shot is perfect
            for seg in store.segments(v.id):
                if seg.label == "sea":
                    curation.accept(store, seg.id, CURATOR)
            from indexer.store import reviews

            reviews.mark_reviewed(store, v.id, "sea", CURATOR)
        before = auto_rows(store)
        report = learn(store, tax, enc, category="sea")
        (outcome,) = report.outcomes
        assert outcome.status == "kept" and outcome.fit.zero_shot.f1 >= outcome.fit.learned.f1 - 1e-9
        assert report.run_id is None and not store.teaching.current_heads() and auto_rows(store) == before


def test_rollback_restores_the_previous_labels_exactly(tmp_path: Path) -> None:
    enc = SyntheticEncoder()
    store, tax, videos = build_world(tmp_path / "data", enc)
    with store:
        for v in videos[:8]:
            judge_video(store, v, "sand", CURATOR)
        before = auto_rows(store)
        first = learn(store, tax, enc)
        after_first = auto_rows(store)
        assert after_first != before
        for v in videos[8:12]:
            judge_video(store, v, "sand", CURATOR)
        second = learn(store, tax, enc)
        assert second.run_id is not None and second.run_id != first.run_id
        result = rollback(store, tax, enc)
        assert result["rolled_back"] == second.run_id
        current = auto_rows(store)
        assert [r for r in current if r[0] not in {v.id for v in videos[8:12]}] == \
            [r for r in after_first if r[0] not in {v.id for v in videos[8:12]}]
        rollback(store, tax, enc)
        judged_since = {v.id for v in videos[8:12]}  # their auto segments became curator judgements
        assert [r for r in auto_rows(store) if r[0] not in judged_since] == \
            [r for r in before if r[0] not in judged_since]
        assert not store.teaching.current_heads()
        with pytest.raises(NotFoundError):
            rollback(store, tax, enc)


def test_new_videos_are_labelled_by_the_current_models(tmp_path: Path) -> None:
    enc = SyntheticEncoder()
    store, tax, videos = build_world(tmp_path / "data", enc)
    with store:
        for v in videos[:8]:
            judge_video(store, v, "sand", CURATOR)
        learn(store, tax, enc)
        model = current_label_model(store, tax, enc)
        zero_shot, current = models(store, tax, enc)
        sand = model.labels.index("sand")
        assert np.array_equal(model.heads[sand].weights, current.heads[sand].weights)
        assert np.array_equal(model.scores(late_vectors := store.frames(videos[9].id)[2]), current.scores(late_vectors))
        late = add_videos(store, enc, model, 6, seed=99, start=100)
        assert held_out_f1(store, late, "sand") > 0.85
        rollback(store, tax, enc)  # videos indexed after the version are relabelled by the previous model
        assert held_out_f1(store, late, "sand") < 0.8
        fresh = add_videos(store, enc, zero_shot, 1, seed=99, start=200)[0]
        assert [(s.start, s.end) for s in store.segments(fresh.id) if s.label == "sand"] == \
            [(s.start, s.end) for s in store.segments(late[0].id) if s.label == "sand"]
