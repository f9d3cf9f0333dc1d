"""Tests of indexer.labels.fit: operating points, calibration, folds and the anchored fit."""

from __future__ import annotations

import numpy as np

from indexer.labels.fit import Counts, Judged, fit_head, folds_of, operating_point, platt
from indexer.labels.heads import LearnedHead, sigmoid


def test_counts_by_hand() -> None:
    c = Counts.of(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 1], bool))
    assert (c.tp, c.fp, c.fn) == (2, 1, 1)
    assert c.precision == 2 / 3 and c.recall == 2 / 3 and abs(c.f1 - 2 / 3) < 1e-12
    assert Counts(0, 0, 0).f1 == 0.0


def test_operating_point_for_precision_takes_the_most_recall() -> None:
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = np.array([1, 1, 0, 1, 0, 0], bool)
    # precision at each cut: 1, 1, 2/3, 3/4, 3/5, 3/6
    assert operating_point(probs, truth, 0.75) == 0.6
    assert operating_point(probs, truth, 0.95) == 0.8
    # a target recall: the highest threshold that still finds 2/3 of the positives
    assert operating_point(probs, truth, 0.6, by_recall=True) == 0.8
    assert operating_point(probs, truth, 1.0, by_recall=True) == 0.6


def test_platt_orders_and_calibrates() -> None:
    rng = np.random.default_rng(1)
    logits = rng.standard_normal(4000) * 3
    truth = rng.random(4000) < sigmoid(2 * logits - 1)
    a, c = platt(logits, truth)
    assert abs(a - 2) < 0.25 and abs(c + 1) < 0.25


def test_folds_keep_videos_whole() -> None:
    videos = np.repeat(np.arange(6), 4)
    positive = np.tile([True, False], 12)
    folds = folds_of(videos, positive)
    for v in range(6):
        assert len(set(folds[videos == v])) == 1
    one_video = folds_of(np.zeros(20, np.int64), np.arange(20) < 10)
    assert len(set(one_video)) == 5


def test_a_fit_anchored_on_a_wrong_prompt_finds_the_class() -> None:
    rng = np.random.default_rng(0)
    d = 16
    pos_c, neg_c = np.eye(d)[0], np.eye(d)[1]
    x = np.concatenate([pos_c + 0.3 * rng.standard_normal((60, d)), neg_c + 0.3 * rng.standard_normal((60, d))])
    y = np.r_[np.ones(60, bool), np.zeros(60, bool)]
    prior = (pos_c + neg_c) / np.sqrt(2)  # the zero-shot prompt cannot tell them apart
    data = Judged(x.astype(np.float32), y, np.arange(120) // 10, np.ones(120, bool), np.full(120, 0.9))
    fit = fit_head(data, prior, target=0.9)
    assert fit.better and fit.learned.f1 > 0.95 and fit.zero_shot.f1 < 0.7
    assert isinstance(fit.head, LearnedHead) and 0 < fit.head.threshold < 1
    assert np.mean((fit.head.probabilities(x) >= fit.head.threshold) == y) > 0.95
