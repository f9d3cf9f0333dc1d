"""What ``reelsearch report`` and ``reelsearch labels`` compute and print.

A taxonomy category is answered from the stored segments (curator edits included, no
re-decode); any other text is scored against the stored frame vectors of the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import NotFoundError
from indexer.labels.coverage import coverage, label_tree, video_coverage
from indexer.labels.segments import LabelReport, label_segments, make_report, report_of
from indexer.store.facade import Store, VideoRecord
from indexer.labels.taxonomy import Taxonomy
from indexer.types import Segment, format_timestamp


@dataclass(frozen=True)
class ReportView:
    """A label report for one video, ready to print or serialise."""

    video: VideoRecord
    label: str
    kind: str  # "category" or "prompt"
    report: LabelReport

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "video": str(self.video.path), "video_id": self.video.id, "duration": self.video.duration,
            "label": self.label, "kind": self.kind, "contains": r.contains,
            "first_appearance": r.first_appearance,
            "first_appearance_hms": None if r.first_appearance is None else format_timestamp(r.first_appearance),
            "total_duration": r.total_duration, "share": r.share,
            "segments": [_segment_json(s) for s in r.segments],
        }


def _segment_json(s: Segment) -> dict[str, Any]:
    return {"label": s.label, "start": s.start, "end": s.end, "start_hms": format_timestamp(s.start),
            "end_hms": format_timestamp(s.end), "score": round(s.score, 4),
            "start_uncertainty": s.start_uncertainty, "end_uncertainty": s.end_uncertainty,
            "source": s.source}


def indexes_first(arg: str) -> bool:
    """Whether ``report``/``labels`` VIDEO names a file (which may need indexing first),
    rather than an id: only then may the command create a store."""
    return Path(arg).expanduser().exists()


def resolve_video(store: Store, arg: str, taxonomy: Taxonomy, choice: dict[str, Any]) -> VideoRecord:
    """An indexed video by path or id; a file not yet indexed (or changed) is indexed first.

    Raises:
        NotFoundError: neither a readable file nor the id of an indexed video (the message
            names the store's data dir).
        MediaError: the file cannot be indexed.
    """
    path = Path(arg).expanduser()
    if indexes_first(arg):
        path = path.absolute()
        record = store.video_by_path(path)
        st = path.stat()
        if record is not None and record.size == st.st_size and record.mtime == st.st_mtime:
            return record
        return _index_now(store, path, taxonomy, choice)
    if arg.isdigit():
        try:
            return store.get_video(int(arg))
        except NotFoundError:
            raise NotFoundError(f"no video with id {arg} in the index in {store.data_dir}") from None
    raise NotFoundError(f"{arg}: no such file, and no video in the index in {store.data_dir} has that id")


def _index_now(store: Store, path: Path, taxonomy: Taxonomy, choice: dict[str, Any]) -> VideoRecord:
    from indexer.labels.classify import LabelModel
    from indexer.cli.options import resolve_encoder
    from indexer.errors import MediaError
    from indexer.pipeline.orchestrate import Indexer

    encoder = resolve_encoder(store, choice)
    result = Indexer(store, encoder, LabelModel.build(taxonomy, encoder)).index_file(path)
    store.flush()
    if result.failed or result.video_id is None:
        raise MediaError(path, result.reason or "could not be indexed")
    return store.get_video(result.video_id)


def label_report(store: Store, video: VideoRecord, label: str, against: tuple[str, ...],
                 taxonomy: Taxonomy, choice: dict[str, Any]) -> ReportView:
    """Report on a category (stored segments) or a free-text prompt (stored vectors)."""
    category = taxonomy.find(label)
    if category is not None and not against:
        return stored_report(store, video, category.id, "category", taxonomy)
    from indexer.labels.classify import prompt_model
    from indexer.cli.options import resolve_encoder

    encoder = resolve_encoder(store, choice)
    model = prompt_model(encoder, label, list(against) or None, taxonomy)
    _ids, times, vectors = store.frames(video.id)
    segments = label_segments(model, times, vectors, store.cuts(video.id), video.duration, video.sample_every)
    return ReportView(video, label, "prompt", make_report(label, segments, video.duration))


def stored_report(store: Store, video: VideoRecord, label: str, kind: str,
                  taxonomy: Taxonomy) -> ReportView:
    """Report on a category (children included) or a tag from the stored segments as curators
    left them (:func:`indexer.labels.coverage.coverage`)."""
    pieces = coverage(store.segments(video.id, include_rejected=True), label, label_tree(taxonomy.ids))
    return ReportView(video, label, kind,
                      report_of(label, [p.to_segment() for p in pieces], video.duration))


def video_labels(store: Store, video: VideoRecord, taxonomy: Taxonomy) -> list[LabelReport]:
    """Every label present in the video (:mod:`indexer.labels.coverage`), longest total duration first."""
    present = video_coverage(store.segments(video.id, include_rejected=True), label_tree(taxonomy.ids))
    reports = [report_of(label, [p.to_segment() for p in pieces], video.duration)
               for label, pieces in present.items()]
    return sorted(reports, key=lambda r: (-r.total_duration, r.label))


def labels_json(video: VideoRecord, reports: list[LabelReport], taxonomy: Taxonomy) -> dict[str, Any]:
    """JSON for ``reelsearch labels --json``."""
    rows = []
    for r in reports:
        cat = taxonomy.find(r.label)
        rows.append({"label": r.label, "name": cat.name if cat else r.label,
                     "restricted": bool(cat and cat.restricted), "total_duration": r.total_duration,
                     "share": r.share, "first_appearance": r.first_appearance, "segments": len(r.segments)})
    return {"video": str(video.path), "video_id": video.id, "duration": video.duration, "labels": rows}


def _bound(t: float, uncertainty: float) -> str:
    return format_timestamp(t) + (f" ±{uncertainty:.2f}s" if uncertainty > 0 else "")


def render_report(view: ReportView) -> str:
    """Human-readable report: contains / first appearance / total duration / segments."""
    r = view.report
    lines = [f"video:            {view.video.path} ({format_timestamp(view.video.duration)})",
             f"label:            {view.label} ({view.kind})",
             f"contains:         {'yes' if r.contains else 'no'}"]
    if r.contains and r.first_appearance is not None:
        lines += [f"first appearance: {r.first_appearance:.3f} s ({format_timestamp(r.first_appearance)})",
                  f"total duration:   {r.total_duration:.3f} s ({r.share:.1%} of the video)",
                  f"segments ({len(r.segments)}):"]
        for s in r.segments:
            who = "" if s.source == "auto" else f"  [{s.source}]"
            lines.append(f"  {_bound(s.start, s.start_uncertainty)} – {_bound(s.end, s.end_uncertainty)}"
                         f"  {s.duration:7.3f} s  score {s.score:.2f}{who}")
    return "\n".join(lines)


def render_labels(video: VideoRecord, reports: list[LabelReport], taxonomy: Taxonomy) -> str:
    """A table of labels present in the video, longest on screen first."""
    lines = [f"{video.path} ({format_timestamp(video.duration)})"]
    if not reports:
        lines.append("  no label is present")
    width = max((len(r.label) for r in reports), default=0)
    for r in reports:
        cat = taxonomy.find(r.label)
        flag = "  [restricted]" if cat is not None and cat.restricted else ""
        lines.append(f"  {r.label:<{width}}  {format_timestamp(r.total_duration)}  {r.share:6.1%}"
                     f"  from {format_timestamp(r.first_appearance or 0.0)}{flag}")
    return "\n".join(lines)
