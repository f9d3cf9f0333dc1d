"""The label report of one video, for ``reelsearch report``/``labels`` and the web alike.

Does the video contain X, when first, for how long, in which segments? A taxonomy category
(by id, name or last id component, any case) or a label the video already has (a curator's
free-text tag, any case) is answered from the stored segments as curators left them
(:mod:`indexer.store.coverage`: children counted for a parent). Any other text,
or a label with competing prompts, is scored against the video's stored frame vectors with a
prompt model (no re-decode), snapped to the stored shot cuts and transitions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.errors import QueryError
from indexer.labels.classify import prompt_model
from indexer.store.coverage import coverage, label_tree, video_coverage
from indexer.labels.names import clean_label, match_key, visible_text
from indexer.labels.segments import LabelReport, label_segments, make_report, report_of
from indexer.labels.taxonomy import Taxonomy
from indexer.models.encoder import Encoder
from indexer.store import Store, VideoRecord
from indexer.types import format_timestamp


@dataclass(frozen=True)
class ReportView:
    """A label report for one video, ready to print or serialise."""

    video: VideoRecord
    label: str
    kind: str  # "category", "tag" (a label the video has) or "prompt"
    report: LabelReport

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of a report (CLI ``report --json`` and ``/api/videos/N/report``)."""
        r = self.report
        return {
            "video": str(self.video.path), "video_id": self.video.id, "duration": self.video.duration,
            "label": self.label, "kind": self.kind, "contains": r.contains,
            "first_appearance": r.first_appearance,
            "first_appearance_hms": None if r.first_appearance is None else format_timestamp(r.first_appearance),
            "total_duration": r.total_duration, "share": r.share,
            "segments": [s.to_dict() for s in r.segments],
        }


def check_label(label: str | None) -> str:
    """The label as it looks (:func:`indexer.labels.names.clean_label`: invisible characters
    removed); raises QueryError when nothing visible is left or it is too long."""
    if not visible_text(label or ""):
        raise QueryError("give a category or a description to report on")
    return clean_label(label)


def label_report(store: Store, video: VideoRecord, label: str, taxonomy: Taxonomy,
                 encoder: Callable[[], Encoder], against: Sequence[str] = ()) -> ReportView:
    """Report on ``label`` in ``video``: stored segments for a category or tag, else a prompt model.

    ``encoder`` is called only when the label must be scored (a free-text prompt, or ``against``).

    Raises:
        QueryError: an empty or too long label, or a prompt that cannot become a model.
        EncoderError / EncoderMismatchError: the encoder is needed and cannot be loaded.
    """
    text = check_label(label)
    if not against:
        category = taxonomy.find(text)
        if category is not None:
            return _stored(store, video, category.id, "category", taxonomy)
        key = match_key(text)
        tag = next((s.label for s in store.segments(video.id, include_rejected=True)
                    if match_key(s.label) == key), None)
        if tag is not None:  # a label the video has, in any case and spacing
            return _stored(store, video, tag, "tag", taxonomy)
    try:
        model = prompt_model(store.cached_texts(encoder()), text, list(against) or None, taxonomy)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    _ids, times, vectors = store.frames(video.id)
    segments = label_segments(model, times, vectors, store.boundaries(video.id), video.duration, video.sample_every)
    return ReportView(video, text, "prompt", make_report(text, segments, video.duration))


def _stored(store: Store, video: VideoRecord, label: str, kind: str, taxonomy: Taxonomy) -> ReportView:
    """Report on a category (children included) or a tag from the stored segments as curators
    left them (:func:`indexer.store.coverage.coverage`)."""
    pieces = coverage(store.segments(video.id, include_rejected=True), label, label_tree(taxonomy.ids))
    return ReportView(video, label, kind, report_of(label, [p.to_segment() for p in pieces], video.duration))


def video_labels(store: Store, video: VideoRecord, taxonomy: Taxonomy) -> list[LabelReport]:
    """Every label present in the video (:mod:`indexer.store.coverage`), longest total duration first."""
    present = video_coverage(store.segments(video.id, include_rejected=True), label_tree(taxonomy.ids))
    reports = [report_of(label, [p.to_segment() for p in pieces], video.duration)
               for label, pieces in present.items()]
    return sorted(reports, key=lambda r: (-r.total_duration, r.label))


def labels_json(video: VideoRecord, reports: list[LabelReport], taxonomy: Taxonomy) -> dict[str, Any]:
    """JSON of the labels a video has (``reelsearch labels --json``)."""
    rows = []
    for r in reports:
        cat = taxonomy.find(r.label)
        rows.append({"label": r.label, "name": cat.name if cat else r.label,
                     "restricted": bool(cat and cat.restricted), "total_duration": r.total_duration,
                     "share": r.share, "first_appearance": r.first_appearance, "segments": len(r.segments)})
    return {"video": str(video.path), "video_id": video.id, "duration": video.duration, "labels": rows}
