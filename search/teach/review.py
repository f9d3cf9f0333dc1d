"""The review queue: the automatic segments where a curator's judgement would teach the most.

Candidates are the active automatic segments of a category in videos not yet marked reviewed for
it. Each gets a priority, the sum of three parts in [0, 1]:

- *uncertainty*: how close the segment's mean score is to the category's threshold;
- *disagreement*: where a learned head is current, the share of the segment's frames on which it
  and the zero-shot model disagree;
- *scarcity*: ``1 / (1 + judgements / 10)``, so categories with few judgements come first.

Highest priority first. Served by ``reelsearch review`` and the web's review page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.labels.classify import LabelModel
from indexer.labels.truth import inside
from indexer.labels.taxonomy import Taxonomy
from indexer.store import SegmentRecord, Store

from .judged import judgement_counts

DEFAULT_LIMIT = 48


@dataclass(frozen=True)
class Candidate:
    """A segment to judge, with why it is worth judging."""

    segment: SegmentRecord
    video_name: str
    priority: float
    uncertainty: float
    disagreement: float
    scarcity: float

    def to_dict(self) -> dict[str, Any]:
        s = self.segment
        return {"segment_id": s.id, "video_id": s.video_id, "video": self.video_name, "category": s.label,
                "start": s.start, "end": s.end, "score": s.score, "priority": self.priority,
                "uncertainty": self.uncertainty, "disagreement": self.disagreement, "scarcity": self.scarcity,
                "thumbnail": f"/media/thumbs/{s.video_id}/{int(round((s.start + s.end) / 2 * 1000))}.jpg"}


def review_queue(store: Store, taxonomy: Taxonomy, zero_shot: LabelModel, current: LabelModel, *,
                 category: str | None = None, limit: int = DEFAULT_LIMIT) -> list[Candidate]:
    """The ``limit`` most useful segments to judge (of ``category``, or of every category).

    Raises NotFoundError for an unknown category.
    """
    labels = [taxonomy.get(category).id] if category else list(taxonomy.ids)
    counts = judgement_counts(store, labels)
    reviewed = store.teaching.reviewed()
    by_video = store.videos_with_labels(labels)
    out: list[Candidate] = []
    for video_id, segs in by_video.items():
        todo = [s for s in segs if s.source == "auto" and (video_id, s.label) not in reviewed]
        if not todo:
            continue
        video = store.get_video(video_id)
        _ids, times, vectors = store.frames(video_id)
        zs, cur = zero_shot.scores(vectors), current.scores(vectors)
        zs_on, cur_on = zero_shot.present(zs), current.present(cur)
        for seg in todo:
            out.append(_candidate(seg, video.path.name, times, current, zs_on, cur, cur_on, counts[seg.label]))
    out.sort(key=lambda c: (-c.priority, c.segment.video_id, c.segment.start))
    return out[:limit]


def _candidate(seg: SegmentRecord, name: str, times: np.ndarray, current: LabelModel, zs_on: np.ndarray,
               cur: np.ndarray, cur_on: np.ndarray, judgements: int) -> Candidate:
    c = current.labels.index(seg.label) if seg.label in current.labels else None
    frames = inside(times, [(seg.start, seg.end)])
    uncertainty = disagreement = 0.0
    if c is not None and frames.any():
        threshold = float(current.thresholds[c])
        margin = abs(float(cur[frames, c].mean()) - threshold)
        uncertainty = 1.0 - min(1.0, margin / max(threshold, 1.0 - threshold))
        if current.heads and current.heads[c] is not None:
            disagreement = float(np.mean(zs_on[frames, c] != cur_on[frames, c]))
    scarcity = 1.0 / (1.0 + judgements / 10.0)
    return Candidate(seg, name, uncertainty + disagreement + scarcity, uncertainty, disagreement, scarcity)
