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
from indexer.types import Segment, format_timestamp

from .words import WordClause, find_words, parse_clause


@dataclass(frozen=True)
class DisclaimerCheck:
    """Was the category's required disclaimer on screen or spoken while the category was?"""

    text: str
    required: float  # seconds the category is present
    on_screen: float  # seconds of those with the disclaimer on screen
    spoken: float  # seconds of those with the disclaimer being said
    covered: float  # seconds with either

    @property
    def present(self) -> bool:
        return self.covered > 0

    def to_json(self) -> dict[str, Any]:
        share = self.covered / self.required if self.required > 0 else None
        return {"text": self.text, "present": self.present, "required_seconds": self.required,
                "on_screen_seconds": self.on_screen, "spoken_seconds": self.spoken,
                "covered_seconds": self.covered, "covered_share": share}


@dataclass(frozen=True)
class ReportView:
    """A label report for one video, ready to print or serialise."""

    video: VideoRecord
    label: str
    kind: str  # "category", "tag" (a label the video has) or "prompt"
    report: LabelReport
    disclaimer: DisclaimerCheck | None = None  # a category that requires a disclaimer

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
            **({"disclaimer": self.disclaimer.to_json()} if self.disclaimer else {}),
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
    clause = parse_clause(text)
    if clause is not None:
        return words_report(store, video, clause)
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


#: Uncertainty (s) of a spoken word's boundary: whisper's word timestamps against the audio, as
#: measured on generated speech by tests/test_speech.py.
SPOKEN_UNCERTAINTY = 0.5


def words_report(store: Store, video: VideoRecord, clause: WordClause) -> ReportView:
    """Report on a word clause (``text:"SPF 30"``): where the text is on screen / the words are said.

    On-screen spans end where the text was last read plus one sampling interval (the first frame
    read without it), exactly at a cut where a cut bounds them: a boundary on a cut (or the
    video's ends) has uncertainty 0, any other one the sampling interval.
    """
    cuts = set(store.cuts(video.id)) | {0.0, video.duration}
    segments = []
    for hit in find_words(store, clause, [video.id]):
        if hit.row.kind == "text":
            unsure = [0.0 if t in cuts else video.sample_every for t in (hit.start, hit.end)]
        else:
            unsure = [SPOKEN_UNCERTAINTY, SPOKEN_UNCERTAINTY]
        end = min(hit.end, video.duration)
        segments.append(Segment(str(clause), min(hit.start, end), end, hit.row.confidence, *unsure))
    return ReportView(video, str(clause), clause.field, report_of(str(clause), segments, video.duration))


def _stored(store: Store, video: VideoRecord, label: str, kind: str, taxonomy: Taxonomy) -> ReportView:
    """Report on a category (children included) or a tag from the stored segments as curators
    left them (:func:`indexer.store.coverage.coverage`)."""
    pieces = coverage(store.segments(video.id, include_rejected=True), label, label_tree(taxonomy.ids))
    category = taxonomy.find(label) if kind == "category" else None
    spans = [(p.start, p.end) for p in pieces]
    check = disclaimer_check(store, video, category.disclaimer, spans) if category and category.disclaimer else None
    return ReportView(video, label, kind, report_of(label, [p.to_segment() for p in pieces], video.duration), check)


def disclaimer_check(store: Store, video: VideoRecord, text: str,
                     spans: Sequence[tuple[float, float]]) -> DisclaimerCheck:
    """How long ``text`` was on screen / spoken within ``spans`` (where the category is)."""
    shown = [(h.start, h.end) for h in find_words(store, WordClause("text", text), [video.id])]
    said = [(h.start, h.end) for h in find_words(store, WordClause("said", text), [video.id])]
    return DisclaimerCheck(text, _length(_union(spans)), _length(_intersect(spans, shown)),
                           _length(_intersect(spans, said)), _length(_intersect(spans, shown + said)))


def _union(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged


def _intersect(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(max(s, t), min(e, u)) for s, e in _union(a) for t, u in _union(b) if min(e, u) > max(s, t)]


def _length(spans: Sequence[tuple[float, float]]) -> float:
    return sum(end - start for start, end in _union(spans))


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
