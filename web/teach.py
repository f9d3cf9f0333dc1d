"""Pages and JSON API of the curator loop: ``/eval``, ``/review``, "reviewed" marks, undo, batch
judgements, learn / rollback, and "save as category" from a refined search.

Writes need a signed-in curator and the CSRF token, as every other change (:mod:`web.security`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from indexer.errors import QueryError
from search.teach.review import DEFAULT_LIMIT

from . import teaching
from .archive import archive, store
from .pages import category_options
from .search_requests import request_query
from .security import curator_required, current_user
from .timeline import category_colours
from .video_page import segment_dict

bp = Blueprint("teach", __name__)


def _limit() -> int:
    value = request.args.get("limit", str(DEFAULT_LIMIT))
    if not value.isdigit() or not 1 <= int(value) <= 500:
        raise QueryError(f"limit must be a whole number from 1 to 500, got {value!r}")
    return int(value)


def _segment(seg) -> dict:
    return segment_dict(seg, category_colours(archive().taxonomy.ids))


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return body


# --- pages ------------------------------------------------------------------------------------

@bp.get("/eval")
def eval_page():
    """Label quality per category against curator judgements; model versions."""
    category = teaching.category_of(request.args.get("category"))
    return render_template("eval.html", active="eval", report=teaching.eval_figures(category), category=category or "",
                           categories=category_options(), runs=[r.to_dict() for r in store().teaching.runs()])


@bp.get("/review")
def review_page():
    """The review queue: segments to accept or reject, most useful first."""
    category = teaching.category_of(request.args.get("category"))
    return render_template("review.html", active="review", queue=teaching.queue(category, _limit()),
                           category=category or "", categories=category_options())


@bp.app_context_processor
def _reviewed_marks() -> dict:
    """``reviewed_for(video_id)``: the categories a video is marked reviewed for (templates)."""
    return {"reviewed_for": lambda video_id: sorted(lab for v, lab in store().teaching.reviewed() if v == video_id)}


@bp.post("/videos/<int:video_id>/reviewed")
@curator_required
def reviewed_form(video_id: int):
    """Mark the video reviewed for a category (or ``unmark`` one) from the video page."""
    unmark = request.form.get("unmark")
    try:
        category = teaching.category_of(unmark or request.form.get("category"), required=True)
        result = teaching.set_reviewed(video_id, category, current_user(), not unmark)
    except QueryError as exc:
        flash(f"Not changed: {exc}", "error")
    else:
        accepted = len(result["accepted"])
        flash(f"{category} is no longer marked reviewed." if unmark else
              f"Marked reviewed for {category}" + (f"; {accepted} automatic segment(s) accepted." if accepted else "."),
              "success")
    return redirect(url_for("pages.video", video_id=video_id, _anchor="curator"), code=303)


@bp.post("/search/category")
@curator_required
def save_category():
    """Save a refined search as a new category (form of the search page)."""
    req = request_query(request.form, {}, 20)
    up, down = teaching.marks_of(request.form)
    try:
        if req is None:
            raise QueryError("search by text first, then mark scenes up or down")
        saved = teaching.save_as_category(req, up, down, request.form.get("name", ""), current_user())
    except QueryError as exc:
        flash(f"Not saved: {exc}", "error")
        return redirect(request.referrer or url_for("pages.search"), code=303)
    flash(f"Saved category {saved['name']} ({saved['id']}); every video is labelled with it.", "success")
    return redirect(url_for("pages.browse_category", category_id=saved["id"]), code=303)


# --- API --------------------------------------------------------------------------------------

@bp.get("/api/eval")
def api_eval():
    """Eval figures per category and overall (?category=)."""
    return jsonify(teaching.eval_figures(teaching.category_of(request.args.get("category"))))


@bp.get("/api/review")
def api_review():
    """The review queue (?category=&limit=)."""
    return jsonify(queue=teaching.queue(teaching.category_of(request.args.get("category")), _limit()))


@bp.route("/api/videos/<int:video_id>/reviewed", methods=["POST", "DELETE"])
@curator_required
def api_reviewed(video_id: int):
    """Mark a video reviewed for {"category"} (POST; its automatic segments are accepted), or unmark (DELETE)."""
    category = teaching.category_of(_body().get("category"), required=True)
    return jsonify(teaching.set_reviewed(video_id, category, current_user(), request.method == "POST"))


@bp.post("/api/segments/<int:segment_id>/undo")
@curator_required
def api_undo(segment_id: int):
    """Put a segment back as it was before its last accept or reject."""
    return jsonify(segment=_segment(teaching.undo(segment_id, current_user())))


@bp.post("/api/review/batch")
@curator_required
def api_batch():
    """Apply {"actions": [{"segment_id", "action": accept|reject|undo}, ...]} in order."""
    done = teaching.batch(_body().get("actions"), current_user())
    return jsonify(segments=[_segment(s) for s in done])


@bp.post("/api/learn")
@curator_required
def api_learn():
    """Learn from the judgements ({"category"} optional); answers with the eval figures before and after."""
    body = request.get_json(silent=True) or {}
    category = teaching.category_of(body.get("category") if isinstance(body, dict) else None)
    return jsonify(teaching.relearn(category, current_user()))


@bp.post("/api/learn/rollback")
@curator_required
def api_rollback():
    """Return to the previous model version (its labels restored exactly)."""
    return jsonify(teaching.roll_back(current_user()))


@bp.get("/api/learn/versions")
def api_versions():
    """Every model version, newest first."""
    return jsonify(versions=[r.to_dict() for r in store().teaching.runs()])


@bp.post("/api/categories")
@curator_required
def api_save_category():
    """{"name", "q" or "like", "up": [...], "down": [...], "category"?} -> 201 with the new category."""
    body = _body()
    values = _Values(body)
    req = request_query(values, {}, 20)
    if req is None:
        raise QueryError("give q (text) or like (VIDEO_ID@SECONDS) and the marked scenes")
    up, down = teaching.marks_of(values)
    return jsonify(category=teaching.save_as_category(req, up, down, str(body.get("name", "")), current_user())), 201


class _Values(dict):
    """A JSON body read like request.values (``getlist`` for the marks)."""

    def getlist(self, key: str) -> list[str]:
        value = self.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise QueryError(f"{key} must be a list of VIDEO_ID@START-END strings")
        return value


