"""Curator forms of the video page: accept, reject, edit, add, delete segments.

Each POST needs a signed-in curator and the CSRF token; it redirects back to the video page
(303) with a message, so reloading never repeats a change. A new free-text tag that looks like
an existing category or tag is not stored at once: a confirm page offers the suggestions and
"create the new tag" (which posts the same change again with ``new_tag=1``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from indexer.errors import CloseLabelError, QueryError

from .archive import archive
from .search_requests import label_view
from .segment_edits import apply_change
from .security import curator_required, current_user

bp = Blueprint("curate", __name__, url_prefix="/videos/<id:video_id>/segments")

_DONE = {"accept": "Accepted", "reject": "Rejected", "edit": "Saved", "add": "Added",
         "delete": "Deleted"}


def _apply_form(action: str, video_id: int, segment_id: int | None = None):
    """Apply the action; flash the outcome; back to the video page."""
    anchor = "curator"
    try:
        seg = apply_change(action, current_user(), video_id=video_id, segment_id=segment_id,
                           fields=request.form)
    except CloseLabelError as exc:
        return _confirm_tag(exc, video_id), 409
    except QueryError as exc:
        flash(f"Not changed: {exc}", "error")
    else:
        flash(f"{_DONE[action]} segment #{seg.id}: {seg.label} "
              f"{seg.start:.3f}–{seg.end:.3f} s.", "success")
        anchor = f"segment-{seg.id}" if action != "delete" else anchor
    return redirect(url_for("pages.video", video_id=video_id, _anchor=anchor), code=303)


def _confirm_tag(exc: CloseLabelError, video_id: int) -> str:
    """The confirm page for a new tag close to existing labels (the form posted again)."""
    fields = {k: v for k, v in request.form.items() if k in ("start", "end")}
    return render_template("confirm_label.html", label=exc.label, action=request.path, fields=fields,
                           suggestions=[label_view(s, archive().taxonomy) for s in exc.suggestions],
                           back=url_for("pages.video", video_id=video_id, _anchor="curator"))


@bp.post("")
@curator_required
def add(video_id: int):
    """Add a curator segment (category id or free-text tag, start, end)."""
    return _apply_form("add", video_id)


@bp.post("/<id:segment_id>/accept")
@curator_required
def accept(video_id: int, segment_id: int):
    """Confirm a segment."""
    return _apply_form("accept", video_id, segment_id)


@bp.post("/<id:segment_id>/reject")
@curator_required
def reject(video_id: int, segment_id: int):
    """Reject a segment (kept as rejected, so re-indexing does not bring it back)."""
    return _apply_form("reject", video_id, segment_id)


@bp.post("/<id:segment_id>/edit")
@curator_required
def edit(video_id: int, segment_id: int):
    """Change start, end and/or label."""
    return _apply_form("edit", video_id, segment_id)


@bp.post("/<id:segment_id>/delete")
@curator_required
def delete(video_id: int, segment_id: int):
    """Delete a curator segment."""
    return _apply_form("delete", video_id, segment_id)
