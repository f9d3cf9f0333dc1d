"""The judged part of the archive: videos with curator judgements, their stored frames and the
frame-level ground truth per category (:mod:`indexer.labels.truth`), and what a label model
predicts on them from the stored embeddings (no decode, no encode)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.labels.classify import LabelModel
from indexer.labels.segments import build_segments
from indexer.labels.truth import FrameTruth, frame_truth, inside
from indexer.store import Store, VideoRecord


@dataclass(frozen=True)
class JudgedVideo:
    """One video with judgements: its frames and the truth of every label judged in it."""

    video: VideoRecord
    times: np.ndarray = field(repr=False)
    vectors: np.ndarray = field(repr=False)
    cuts: tuple[float, ...]
    truth: dict[str, FrameTruth]

    @property
    def fps(self) -> float:
        """Frames per second for boundary errors (the sampling rate if the video has none)."""
        return float(self.video.fps) if self.video.fps else 1.0 / self.video.sample_every


@dataclass(frozen=True)
class Prediction:
    """A label model's output on one video for one label: per-frame scores, the frames inside its
    (smoothed) segments, and those segments' spans."""

    scores: np.ndarray
    present: np.ndarray
    spans: tuple[tuple[float, float], ...]


def judgement_counts(store: Store, labels: Sequence[str]) -> dict[str, int]:
    """label -> curator judgements: judged segments (accepted, rejected, added, retimed) plus
    videos marked reviewed."""
    counts = {label: 0 for label in labels}
    for segs in store.videos_with_labels(list(labels), include_rejected=True).values():
        for s in segs:
            if s.source == "curator":
                counts[s.label] += 1
    for _video, label in store.teaching.reviewed():
        if label in counts:
            counts[label] += 1
    return counts


def judged_videos(store: Store, labels: Sequence[str]) -> list[JudgedVideo]:
    """Every video with a judgement of one of ``labels``, with the truth of each label judged in it."""
    wanted = set(labels)
    reviewed = {(v, lab) for v, lab in store.teaching.reviewed() if lab in wanted}
    judged: dict[int, set[str]] = {}
    for video_id, segs in store.videos_with_labels(list(labels), include_rejected=True).items():
        for s in segs:
            if s.source == "curator":
                judged.setdefault(video_id, set()).add(s.label)
    for video_id, label in reviewed:
        judged.setdefault(video_id, set()).add(label)
    out = []
    for video_id in sorted(judged):
        _ids, times, vectors = store.frames(video_id)
        segments = store.segments(video_id, include_rejected=True)
        truth = {label: frame_truth(times, label, segments, (video_id, label) in reviewed)
                 for label in sorted(judged[video_id])}
        out.append(JudgedVideo(store.get_video(video_id), times, vectors, tuple(store.cuts(video_id)), truth))
    return out


def predict(model: LabelModel, video: VideoRecord, times: np.ndarray, vectors: np.ndarray,
            cuts: Sequence[float], label: str, scores: np.ndarray | None = None) -> Prediction:
    """What ``model`` says about ``label`` on these frames, as indexing would store it.

    ``scores`` (the model's (n, C) scores of ``vectors``) may be passed to avoid recomputing.
    """
    c = model.labels.index(label)
    all_scores = model.scores(vectors) if scores is None else scores
    column = all_scores[:, c]
    flags = model.present(all_scores)[:, c]
    segs = build_segments(label, times, column, flags, cuts, video.duration, video.sample_every) if flags.any() else []
    spans = tuple((s.start, s.end) for s in segs)
    return Prediction(column.astype(np.float64), inside(times, spans), spans)
