"""Relevance cutoff (search.cutoff) on the fake colour encoder: relative to a background, not a cosine."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.models.colour import COLOURS
from search.cutoff import Cutoff, absolute_judge, image_judge, text_judge
from search.query import embed_query, parse_query

BACKGROUND = ["a photo", "a video frame", "a person", "a blurry image", "text on a screen"]


@pytest.fixture()
def frames(colour_encoder):
    """One embedded solid frame per named colour, in COLOURS order."""
    images = np.array([np.full((32, 32, 3), rgb, np.uint8) for rgb in COLOURS.values()])
    return colour_encoder.encode_images(images)


def _hits(colour_encoder, frames, text, **kw):
    vectors = embed_query(parse_query(text, kw.pop("negatives", ())), colour_encoder.encode_texts)
    judge = text_judge(vectors, colour_encoder.encode_texts(BACKGROUND), np.repeat(frames, 3, axis=0), **kw)
    _, hits = judge.judge(frames)
    return {name for name, hit in zip(COLOURS, hits) if hit}, judge


def test_colour_query_hits_its_colour_not_unrelated_ones(colour_encoder, frames):
    hits, judge = _hits(colour_encoder, frames, "red")
    assert "red" in hits and not hits & {"blue", "green", "cyan", "white", "black"}
    assert judge.cutoff.method == "background"


@pytest.mark.parametrize("text", ["giraffe", "a man fishing from a boat at sunrise", "dog + cat"])
def test_query_that_fits_nothing_hits_nothing(colour_encoder, frames, text):
    hits, _ = _hits(colour_encoder, frames, text)
    assert hits == set()
    # The same frames pass an absolute cutoff low enough: the background is what rejects them.
    vec = embed_query(parse_query(text), colour_encoder.encode_texts).query
    _, low = absolute_judge(vec, np.zeros((0, len(vec)), np.float32), -1.0).judge(frames)
    assert low.all()


def test_negative_removes_frames_that_look_more_like_it(colour_encoder, frames):
    both, _ = _hits(colour_encoder, frames, "red + blue")
    assert {"red", "blue"} <= both
    without, _ = _hits(colour_encoder, frames, "red + blue", negatives=["blue"])
    assert "red" in without and "blue" not in without


def test_stricter_threshold_keeps_fewer(colour_encoder, frames):
    loose, _ = _hits(colour_encoder, frames, "purple", threshold=0.5)
    strict, _ = _hits(colour_encoder, frames, "purple", threshold=0.99)
    assert "purple" in strict and strict <= loose


def test_image_query_is_judged_against_its_own_distribution(frames):
    red = frames[list(COLOURS).index("red")]
    sample = np.vstack([frames] * 3)
    judge = image_judge(red, sample)
    _, hits = judge.judge(frames)
    hit_names = {name for name, hit in zip(COLOURS, hits) if hit}
    assert "red" in hit_names and "blue" not in hit_names
    assert judge.cutoff.method == "distribution" and judge.cutoff.threshold > np.median(sample @ red)


def test_min_score_is_an_absolute_cosine(colour_encoder, frames):
    vec = colour_encoder.encode_texts(["red"])[0]
    scores, hits = absolute_judge(vec, np.zeros((0, len(vec)), np.float32), 0.5).judge(frames)
    np.testing.assert_array_equal(hits, scores >= 0.5)
    with pytest.raises(ValueError):
        absolute_judge(vec, np.zeros((0, len(vec)), np.float32), 2.0)


def test_cutoff_validates_and_describes():
    with pytest.raises(ValueError):
        Cutoff("global", 0.3)
    text = Cutoff("background", 0.5, 0.1).describe()
    assert "background" in text and "0.50" in text
    assert Cutoff("min_score", 0.25).to_dict()["threshold"] == 0.25


def test_text_floor_applies_only_to_a_big_enough_index(colour_encoder, frames):
    from search.cutoff import MIN_FLOOR_FRAMES

    vectors = embed_query(parse_query("red"), colour_encoder.encode_texts)
    background = colour_encoder.encode_texts(BACKGROUND)
    # a small archive that is mostly red: the query rightly matches most of it
    small = np.repeat(frames[:1], 50, axis=0)
    judge = text_judge(vectors, background, small)
    assert judge.cutoff.floor == -1.0 and judge.judge(frames[:1])[1].all()
    assert "cosine" not in judge.cutoff.describe()
    # a big archive where red is rare: the floor sits above the typical score
    rng = np.random.default_rng(0)
    big = frames[rng.integers(1, len(frames), MIN_FLOOR_FRAMES)]
    floored = text_judge(vectors, background, big)
    assert floored.cutoff.floor > float(np.median(big @ vectors.query))
    assert floored.judge(frames[:1])[1].all()


def _shot(rng, centre, count, spread):
    frames = centre + spread * rng.standard_normal((count, centre.shape[0]))
    return frames / np.linalg.norm(frames, axis=1, keepdims=True)


def test_image_query_always_matches_itself_and_near_duplicates_in_a_small_index():
    """36 frames, two thirds from the query's own shot: the distribution floor reaches 1.0, yet
    the frame itself (cosine 0.99999994 in float32) and a near-copy must match."""
    rng = np.random.default_rng(3)
    street, harbour = rng.standard_normal((2, 64))
    frames = np.vstack([_shot(rng, street, 24, 0.3), _shot(rng, harbour, 12, 0.3)]).astype(np.float32)
    query = frames[5]
    near = _shot(rng, query, 1, 0.02).astype(np.float32)
    judge = image_judge(query, frames)
    scores, hits = judge.judge(np.vstack([frames, near]))
    assert hits[5] and hits[-1] and scores[-1] < 1.0
    assert not hits[24:36].any()  # the other shot is still no match
    assert judge.cutoff.threshold <= 0.95
