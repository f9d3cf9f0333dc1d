"""One ranking over pictures and words: reciprocal-rank fusion (RRF) of scene lists.

Each part of a query gives a ranked list: the visual query its scenes (all result videos, by
cosine), each word clause its hits (by FTS5 bm25). A word hit that overlaps a visual scene of the
same video in time joins that scene; hits that overlap no visual scene become scenes of their
own (overlapping ones merged). A scene's score is ``sum(1 / (RRF_K + rank))`` over the lists it
is in (its best rank in each), so a scene matching every part of the query ranks above scenes
matching only some of them, whatever the raw scales (cosines, bm25) are; divided by what a
scene first in every list would get, so it reads 0..1: 1.0 for first everywhere, 0.5 for first
in one of two parts, 0.87 for tenth in the only one. Videos rank by their best scene.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from indexer.store.catalog import VideoRecord

from .results import VideoResult
from .scenes import Scene, attach_labels
from .words import WordClause, WordHit

#: The constant of reciprocal-rank fusion (Cormack et al. 2009): damps the weight of top ranks.
RRF_K = 60


@dataclass
class _Unit:
    video_id: int
    start: float
    end: float
    best_time: float
    frames: int = 1
    labels: tuple[str, ...] = ()
    ranks: dict[str, int] = field(default_factory=dict)  # list name -> best rank (1-based)
    words: list[WordHit] = field(default_factory=list)

    def overlaps(self, hit: WordHit) -> bool:
        return hit.video_id == self.video_id and hit.start < self.end and hit.end > self.start

    def rank(self, name: str, rank: int) -> None:
        self.ranks[name] = min(rank, self.ranks.get(name, rank))

    def score(self, lists: int) -> float:
        """The fused score over ``lists`` ranked lists, 1.0 for first in every one."""
        return sum(1.0 / (RRF_K + r) for r in self.ranks.values()) * (RRF_K + 1) / lists


def fuse(visual: Sequence[VideoResult], clauses: Mapping[WordClause, Sequence[WordHit]],
         video: Callable[[int], VideoRecord], label_spans: Callable[[int], list[tuple[str, float, float]]],
         k: int) -> list[VideoResult]:
    """The fused results, best video first, at most ``k`` (``clauses`` hits best first)."""
    scenes = sorted(((r.video.id, s) for r in visual for s in r.scenes), key=lambda vs: -vs[1].score)
    units = []
    for rank, (video_id, s) in enumerate(scenes, 1):
        unit = _Unit(video_id, s.start, s.end, s.best_time, s.hits, s.labels)
        unit.rank("visual", rank)
        units.append(unit)
    word_units: list[_Unit] = []
    for clause, hits in clauses.items():
        for rank, hit in enumerate(hits, 1):
            home = [u for u in units if u.overlaps(hit)] or [u for u in word_units if u.overlaps(hit)]
            if not home:
                home = [_Unit(hit.video_id, hit.start, hit.end, hit.start)]
                word_units.append(home[0])
            for unit in home:
                unit.rank(str(clause), rank)
                unit.words.append(hit)
                if unit in word_units:
                    unit.start, unit.end = min(unit.start, hit.start), max(unit.end, hit.end)
    by_video: dict[int, list[Scene]] = {}
    lists = len(clauses) + (1 if units else 0)
    for unit in units + word_units:
        scene = Scene(unit.start, unit.end, min(max(unit.best_time, unit.start), unit.end), unit.score(lists),
                      unit.labels, unit.frames, tuple(sorted(unit.words, key=lambda w: (w.start, w.rank))))
        if unit in word_units:
            scene = attach_labels(scene, label_spans(unit.video_id))
        by_video.setdefault(unit.video_id, []).append(scene)
    results = [VideoResult(video(vid), max(s.score for s in found), tuple(sorted(found, key=lambda s: s.start)))
               for vid, found in by_video.items()]
    results.sort(key=lambda r: (-r.score, r.video.id))
    return results[:k]
