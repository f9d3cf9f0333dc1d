"""JSON API: everything the pages do. Errors are ``{"error": "..."}`` with a 4xx status
(400 bad query, 401 not signed in, 403 CSRF, 404 unknown, 413 too large); see web/openapi.yaml.

Writes need a signed-in curator (``POST /api/login``) and the session's CSRF token in the
``X-CSRF-Token`` header (from ``GET /api/session`` or the login response).
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from indexer.errors import CloseLabelError, NotFoundError, QueryError
from indexer.types import MAX_LABEL_CHARS
from search.server_texts import MAX_TEXTS
from search.report import label_report, labels_json, video_labels

from . import browsing
from .archive import archive, shown_path, store
from .segment_edits import apply_change, audit_entries
from .pages import label_totals, overall_stats, page_number, restricted_summary
from .search_requests import SearchRequest, label_view, parse_count, parse_k, request_query
from .security import csrf_exempt, curator_required, current_user
from .teaching import search_with_feedback
from .timeline import category_colours
from .video_page import audit_dict, segment_dict, video_dict
from .words_view import words_json

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000


def _search_request() -> SearchRequest:
    """The query of a GET or multipart POST. Raises QueryError."""
    k = parse_k(request.values.get("k"), int(current_app.config["SEARCH_LIMIT"]))
    req = request_query(request.values, request.files, k)
    if req is None:
        raise QueryError("give q (text), like (VIDEO_ID@SECONDS) or an image file")
    return req


@bp.route("/search", methods=["GET", "POST"])
@csrf_exempt  # read-only; POST only carries an uploaded image
def search():
    """Search by text (q), by image (multipart 'image') or like a frame (like=ID@SECONDS);
    ``up``/``down`` (VIDEO@START-END, repeated) refine it by relevance feedback."""
    req = _search_request()
    view, feedback = search_with_feedback(req, request.values)
    return jsonify({**view, "feedback": {"up": feedback["up"], "down": feedback["down"], "refined": feedback["refined"]}})


@bp.get("/embed")
def embed():
    """Unit text vectors from the index's encoder (``text`` repeated): how CLI commands on the same
    data dir use this server's warm model (:mod:`search.server_texts`)."""
    texts = request.args.getlist("text")
    if not 0 < len(texts) <= MAX_TEXTS or any(len(t) > MAX_LABEL_CHARS * 5 for t in texts):
        raise QueryError(f"give 1 to {MAX_TEXTS} texts of at most {MAX_LABEL_CHARS * 5} characters")
    encoder = store().cached_texts(archive().encoder())
    return jsonify(encoder=encoder.name, vectors=encoder.encode_texts(texts).tolist())


@bp.get("/categories")
def categories():
    """The taxonomy tree with videos and screen time per category, and curator tags."""
    totals, taxonomy, stats = label_totals(), archive().taxonomy, overall_stats()
    return jsonify(categories=browsing.category_tree(taxonomy, totals, stats["duration"]),
                   tags=browsing.tag_rows(taxonomy, totals), restricted=restricted_summary(),
                   videos=stats["videos"], duration=stats["duration"])


@bp.get("/categories/<path:label>/videos")
def category_videos(label: str):
    """Videos showing a category (children included) or a curator tag: how long and where,
    most screen time first, a page at a time (``page``, ``per_page``)."""
    taxonomy = archive().taxonomy
    if label in taxonomy.ids:
        kind = "category"
    elif label in browsing.tags(taxonomy, label_totals()):
        kind = "tag"
    else:
        raise NotFoundError(f"no category or tag {label!r}")
    rows, page = browsing.label_listing(store(), taxonomy, label, page_number(), _per_page())
    return jsonify(label=label, kind=kind, videos=rows, **page.to_dict())


@bp.get("/videos")
def videos():
    """Indexed videos by id, a page at a time (``page``, ``per_page``)."""
    page = browsing.Page.of(page_number(), overall_stats()["videos"], _per_page())
    videos, _ = store().video_page(sort="id", offset=page.offset, limit=page.per_page)
    return jsonify(videos=[video_dict(v) for v in videos], **page.to_dict())


def _per_page() -> int:
    """``?per_page=`` (1..MAX_PER_PAGE, default DEFAULT_PER_PAGE). Raises QueryError."""
    return parse_count("per_page", request.args.get("per_page"), DEFAULT_PER_PAGE, MAX_PER_PAGE)


@bp.get("/videos/<id:video_id>")
def video(video_id: int):
    """One video with the labels present in it (curator decisions applied), its segments
    (rejected too with include_rejected=1), cuts (with their margins), transitions and links."""
    st, taxonomy = store(), archive().taxonomy
    record = st.get_video(video_id)
    rejected = request.args.get("include_rejected", "").lower() in ("1", "true", "yes")
    colours = category_colours(taxonomy.ids)
    present = labels_json(record, video_labels(st, record, taxonomy), taxonomy)["labels"]  # no path
    cuts = st.shot_cuts(video_id)
    transitions = [{"kind": t.kind, "colour": t.colour, "start": t.start, "end": t.end, "strength": t.strength}
                   for t in st.transitions(video_id)]
    return jsonify(video=video_dict(record), labels=present, cuts=[c.time for c in cuts],
                   cut_margins=[c.margin for c in cuts], transitions=transitions,
                   segments=[segment_dict(s, colours) for s in st.segments(video_id, include_rejected=rejected)],
                   media=f"/media/videos/{video_id}")


@bp.get("/videos/<id:video_id>/report")
def report(video_id: int):
    """contains / first appearance / total duration / segments for ?label=."""
    st = store()
    record = st.get_video(video_id)
    view = label_report(st, record, request.args.get("label", ""), archive().taxonomy, archive().encoder)
    return jsonify({**view.to_json(), "video": shown_path(record.path)})


@bp.get("/videos/<id:video_id>/words")
def words(video_id: int):
    """The video's on-screen text lines (box, confidence, visible span) and transcript (timed words)."""
    st = store()
    st.get_video(video_id)
    return jsonify(words_json(video_id, st.words(video_id)))


@bp.get("/videos/<id:video_id>/audit")
def audit(video_id: int):
    """The video's curator audit log, newest first."""
    store().get_video(video_id)
    return jsonify(audit=[audit_dict(e) for e in audit_entries(video_id)])


def _segment(seg: Any) -> dict[str, Any]:
    return segment_dict(seg, category_colours(archive().taxonomy.ids))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return body


@bp.errorhandler(CloseLabelError)
def close_label(exc: CloseLabelError):
    """409: a new tag looks like existing labels; send it again with "new_tag": true, or
    use a suggestion."""
    taxonomy = archive().taxonomy
    return jsonify(error=str(exc), label=exc.label,
                   confirm='send the same request with "new_tag": true to create the tag',
                   suggestions=[{k: v for k, v in label_view(s, taxonomy).items() if k != "colour"}
                                for s in exc.suggestions]), 409


@bp.post("/videos/<id:video_id>/segments")
@curator_required
def add_segment(video_id: int):
    """Add a curator segment: {"label", "start", "end"} -> 201 with the segment."""
    seg = apply_change("add", current_user(), video_id=video_id, fields=_json_body())
    return jsonify(segment=_segment(seg)), 201


@bp.patch("/segments/<id:segment_id>")
@curator_required
def edit_segment(segment_id: int):
    """Change any of {"start", "end", "label"}."""
    seg = apply_change("edit", current_user(), segment_id=segment_id, fields=_json_body())
    return jsonify(segment=_segment(seg))


@bp.post("/segments/<id:segment_id>/<any(accept, reject):action>")
@curator_required
def set_status(segment_id: int, action: str):
    """Accept or reject a segment."""
    seg = apply_change(action, current_user(), segment_id=segment_id)
    return jsonify(segment=_segment(seg))


@bp.delete("/segments/<id:segment_id>")
@curator_required
def delete_segment(segment_id: int):
    """Delete a curator segment; returns it as it was."""
    seg = apply_change("delete", current_user(), segment_id=segment_id)
    return jsonify(deleted=_segment(seg))


@bp.get("/openapi.yaml")
def openapi():
    """This API's OpenAPI description."""
    text = resources.files("web").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return Response(text, mimetype="application/yaml")
