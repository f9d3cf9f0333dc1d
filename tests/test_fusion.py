"""Reciprocal-rank fusion of visual scenes and word hits (search/fusion.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from indexer.store.catalog import VideoRecord
from indexer.store.words import WordRow
from search.fusion import RRF_K, fuse
from search.results import VideoResult
from search.scenes import Scene
from search.words import WordClause, WordHit


def _video(vid: int) -> VideoRecord:
    return VideoRecord(id=vid, path=Path(f"/v/{vid}.mp4"), content_hash="h", size=1, mtime=0.0, duration=10.0,
                       fps=Fraction(25), width=64, height=48, rotation=0, start_time=0.0, codec="h264",
                       sample_every=0.5, status="ok", note="", indexed_at=0.0)


def _hit(clause, vid, start, end, rank):
    row = WordRow(vid * 10 + int(start), vid, "text", start, end, clause.phrase, 0.9)
    return WordHit(clause, row, start, end, ((clause.phrase, True),), rank)


def test_the_scene_with_picture_and_words_ranks_first():
    clause = WordClause("text", "SPF 30")
    visual = [VideoResult(_video(1), 0.9, (Scene(0.0, 2.0, 1.0, 0.9),)),
              VideoResult(_video(2), 0.8, (Scene(4.0, 6.0, 5.0, 0.8),))]
    hits = {clause: [_hit(clause, 3, 0.0, 1.0, -2.0), _hit(clause, 2, 4.5, 5.5, -1.0)]}
    results = fuse(visual, hits, _video, lambda vid: [("red", 0.0, 10.0)], k=10)
    assert [r.video.id for r in results] == [2, 1, 3]
    top = results[0].scenes[0]
    # second in both lists (picture and words), over two lists, on the 0..1 scale
    assert top.score == pytest.approx((2 / (RRF_K + 2)) * (RRF_K + 1) / 2) and top.words[0].start == 4.5
    word_only = results[2].scenes[0]
    assert (word_only.start, word_only.end, word_only.labels) == (0.0, 1.0, ("red",))
    assert word_only.score == pytest.approx(0.5)  # first in one of the two lists
    assert results[1].scenes[0].score == pytest.approx(0.5)  # the picture alone, first


def test_a_scene_first_in_every_list_scores_one():
    said, text = WordClause("said", "sale"), WordClause("text", "SALE")
    alone = fuse([], {said: [_hit(said, 1, 2.0, 3.0, -1.0)]}, _video, lambda vid: [], k=5)
    assert alone[0].scenes[0].score == pytest.approx(1.0)
    visual = [VideoResult(_video(1), 0.9, (Scene(0.0, 4.0, 1.0, 0.9),))]
    both = fuse(visual, {said: [_hit(said, 1, 2.0, 3.0, -1.0)], text: [_hit(text, 1, 1.0, 2.0, -1.0)]},
                _video, lambda vid: [], k=5)
    assert both[0].scenes[0].score == pytest.approx(1.0)
    tenth = fuse([], {said: [_hit(said, v, 2.0, 3.0, -1.0) for v in range(1, 11)]}, _video, lambda vid: [], k=10)
    assert [r.scenes[0].score for r in tenth][-1] == pytest.approx((RRF_K + 1) / (RRF_K + 10))


def test_word_hits_alone_and_touching_spans_do_not_join():
    clause = WordClause("said", "hello")
    visual = [VideoResult(_video(1), 0.9, (Scene(0.0, 2.0, 1.0, 0.9),))]
    results = fuse(visual, {clause: [_hit(clause, 1, 2.0, 3.0, -1.0)]}, _video, lambda vid: [], k=1)
    assert len(results) == 1 and len(results[0].scenes) == 2  # a hit that only touches is its own scene
