"""The label report of one video: does it contain X, when first, how long, which segments.

A taxonomy category (or a label the video already has, such as a curator's free-text tag) is
answered from the stored active segments, curator edits included, children counted for a
parent. Any other text is scored against the video's stored frame vectors with a one-label
prompt model (no re-decode), snapped to the stored shot cuts.
"""

from __future__ import annotations

import logging
from typing import Any

from indexer.cli.report import ReportView, stored_report
from indexer.errors import QueryError

log = logging.getLogger(__name__)

MAX_LABEL_CHARS = 200


def check_label(label: str | None) -> str:
    """The stripped label; raises QueryError when empty or too long."""
    text = (label or "").strip()
    if not text:
        raise QueryError("give a category or a description to report on")
    if len(text) > MAX_LABEL_CHARS:
        raise QueryError(f"the label is too long ({len(text)} characters; at most {MAX_LABEL_CHARS})")
    return text


def prompt_report(store: Any, video: Any, text: str, encoder: Any, taxonomy: Any) -> ReportView:
    """Report for free text: a prompt model over the stored frame vectors and cuts.

    Raises QueryError when the text cannot be turned into a model (e.g. empty prompt).
    """
    from indexer.labels.classify import prompt_model
    from indexer.labels.segments import label_segments, make_report

    try:
        model = prompt_model(encoder, text, None, taxonomy)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    _ids, times, vectors = store.frames(video.id)
    segments = label_segments(model, times, vectors, store.cuts(video.id), video.duration,
                              video.sample_every)
    return ReportView(video, text, "prompt", make_report(text, segments, video.duration))


def video_report(store: Any, video: Any, label: str, taxonomy: Any, encoder_factory: Any) -> ReportView:
    """Category / existing tag -> stored segments; anything else -> prompt model.

    Raises QueryError for an empty or too long label; EncoderError if the encoder is needed
    and cannot be loaded.
    """
    text = check_label(label)
    category = taxonomy.find(text)
    if category is not None:
        return stored_report(store, video, category.id, "category", taxonomy)
    if any(s.label == text for s in store.segments(video.id, include_rejected=True)):
        return stored_report(store, video, text, "tag", taxonomy)
    return prompt_report(store, video, text, encoder_factory(), taxonomy)
