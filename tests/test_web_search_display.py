"""web/search_display.py: match strength between the cutoff and the best match; empty results
explained in plain words."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)

from web.search_display import WEAK_MARGIN, add_strengths, explain_empty, strength, strength_range


@dataclass(frozen=True)
class Cutoff:
    least_score: float


def test_strength_runs_from_the_cutoff_floor_to_the_best_match():
    low, best = strength_range(Cutoff(0.25), [0.31, 0.27, 0.29])
    assert (low, best) == (0.25, 0.31)
    assert [strength(s, low, best) for s in (0.31, 0.28, 0.25, 0.2)] == [1.0, 0.5, 0.0, 0.0]


def test_without_a_floor_weak_means_far_below_the_best_match():
    low, best = strength_range(Cutoff(-1.0), [0.30, 0.29, 0.24])
    assert low == pytest.approx(0.30 - WEAK_MARGIN)
    assert strength(0.29, low, best) == pytest.approx(0.8)
    assert strength(0.24, low, best) == 0.0
    assert strength_range(None, []) is None
    assert strength(0.3, 0.3, 0.3) == 1.0  # all equal: all full


def test_add_strengths_marks_weak_scenes_and_each_video_by_its_best():
    results = [{"scenes": [{"score": 0.31}, {"score": 0.262}]}, {"scenes": [{"score": 0.26}]}]
    add_strengths(results, Cutoff(0.25))
    assert [s["strength"] for s in results[0]["scenes"]] == [1.0, 0.2]
    assert [s["weak"] for s in results[0]["scenes"]] == [False, True]
    assert results[0]["strength"] == 1.0 and results[1]["strength"] == pytest.approx(0.167, abs=1e-3)


def test_fused_scores_are_their_own_strength_whatever_the_visual_cutoff():
    # a words query: first in every part 1.0, first in one of two parts 0.5, tenth alone 0.871
    results = [{"scenes": [{"score": 1.0}, {"score": 0.5}]}, {"scenes": [{"score": 0.871}]}]
    add_strengths(results, Cutoff(0.25), fused=True)  # the visual part's cutoff is a cosine: not used
    assert [s["strength"] for s in results[0]["scenes"]] == [1.0, 0.5]
    assert results[1]["strength"] == 0.871 and not any(s["weak"] for r in results for s in r["scenes"])


def test_empty_explanations_fit_the_query_and_the_filters():
    text = explain_empty("text", "giraffe", category=None, category_shown=False, index_empty=False)
    assert "generic description" in text.reason and not any("categor" in t for t in text.tips)
    image = explain_empty("image", "the uploaded image", category="Beer", category_shown=True, index_empty=False,
                          parent="Alcohol")
    assert "picture" in image.reason
    assert "Search all categories instead of only Beer, or Alcohol (its parent category)." in image.tips
    unshown = explain_empty("text", "red", category="Night", category_shown=False, index_empty=False)
    assert unshown.reason == "No indexed video shows Night, so nothing could match."
    empty = explain_empty("like", "video 1 at 00:00:01.000", category=None, category_shown=False, index_empty=True)
    assert "indexed yet" in empty.reason
    for result in (text, image, unshown, empty):
        words = " ".join((result.headline, result.reason, *result.tips))
        assert "cosine" not in words and "p >=" not in words


def test_api_scenes_carry_their_strength(client):
    body = client.get("/api/search?q=red").get_json()
    scenes = [scene for video in body["results"] for scene in video["scenes"]]
    assert scenes and all(0.0 <= scene["strength"] <= 1.0 for scene in scenes)
    assert max(scene["strength"] for scene in scenes) == 1.0
    assert all(video["strength"] == max(s["strength"] for s in video["scenes"]) for video in body["results"])
