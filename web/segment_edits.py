"""Curator operations as the web app performs them: sign-in checks, audit log reads, and
segment changes through :mod:`indexer.store.curation` on a short-lived writable store.

Shared by the page forms (:mod:`web.curate`) and the JSON API (:mod:`web.api`). Every change
is one SQLite transaction with its audit-log row; the read-only store shared by requests sees
it on the next request, so browse, search filters and reports change at once.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from indexer.errors import NotFoundError, QueryError
from indexer.labels.names import label_resolver
from indexer.store import curation

from .archive import archive, store, writable_store

log = logging.getLogger(__name__)

ACTIONS = ("accept", "reject", "edit", "add", "delete")


def verify_curator(name: str, password: str) -> bool:
    """Whether ``name``/``password`` is a curator account (constant work for unknown names)."""
    return curation.check_password(store(), name, password)


def audit_entries(video_id: int, limit: int = 200) -> list[Any]:
    """The video's audit log, newest first."""
    return curation.audit(store(), video_id, limit=limit)


def parse_seconds(value: Any, name: str, *, required: bool) -> float | None:
    """A time in seconds from a form field or JSON value. Raises QueryError if malformed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise QueryError(f"{name} is required (seconds)")
        return None
    if isinstance(value, bool):
        raise QueryError(f"{name} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise QueryError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise QueryError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return seconds


def _label(value: Any, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise QueryError("label is required (a category or a free-text tag)")
        return None
    if not isinstance(value, str):
        raise QueryError(f"label must be a string, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    """A JSON boolean or a form checkbox/hidden value ("1", "true", "yes", "on")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True


def _resolver(fields: Mapping[str, Any]) -> Any:
    """How typed labels become stored ones: the app's taxonomy; ``new_tag`` confirms a new tag."""
    return label_resolver(archive().taxonomy, new_tag=_flag(fields.get("new_tag")))


def segment_of(video_id: int | None, segment_id: int) -> Any:
    """The segment, checked to belong to ``video_id`` when given. Raises NotFoundError."""
    segment = store().get_segment(segment_id)
    if video_id is not None and segment.video_id != video_id:
        raise NotFoundError(f"video {video_id} has no segment {segment_id}")
    return segment


def apply_change(action: str, user: str, *, video_id: int | None = None,
                 segment_id: int | None = None, fields: Mapping[str, Any] | None = None) -> Any:
    """Run one curator action and return the resulting (or deleted) SegmentRecord.

    Raises QueryError (bad input, unknown user), NotFoundError (unknown video or segment),
    StoreError (the catalog cannot be written).
    """
    fields = fields or {}
    if action == "add":
        store().get_video(int(video_id))  # NotFoundError before any write
        label = _label(fields.get("label"), required=True)
        start = parse_seconds(fields.get("start"), "start", required=True)
        end = parse_seconds(fields.get("end"), "end", required=True)
        with writable_store() as writer:
            result = curation.add(writer, int(video_id), user, label, start, end,
                                  resolve=_resolver(fields))
    else:
        segment_of(video_id, int(segment_id))
        with writable_store() as writer:
            result = _segment_action(writer, action, int(segment_id), user, fields)
    log.info("curator %s: %s segment %s of video %s", user, action, result.id, result.video_id)
    return result


def _segment_action(writer: Any, action: str, segment_id: int, user: str,
                    fields: Mapping[str, Any]) -> Any:
    if action == "accept":
        return curation.accept(writer, segment_id, user)
    if action == "reject":
        return curation.reject(writer, segment_id, user)
    if action == "delete":
        return curation.delete(writer, segment_id, user)
    if action == "edit":
        return curation.edit(writer, segment_id, user, resolve=_resolver(fields),
                             start=parse_seconds(fields.get("start"), "start", required=False),
                             end=parse_seconds(fields.get("end"), "end", required=False),
                             label=_label(fields.get("label"), required=False))
    raise QueryError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
