"""Server-rendered pages: search, browse (tree, category, tag), videos list, video page."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from indexer.errors import NotFoundError, QueryError
from search.filters import restricted_roots
from search.report import label_report

from . import browsing
from .archive import archive, shown_path, store
from .search_display import EmptyResult, explain_empty
from .search_requests import SearchRequest, request_query
from .security import csrf_exempt, current_user
from .teaching import search_with_feedback
from .timeline import category_colours, label_colour
from .video_list import VideoQuery, file_size, list_videos
from .video_page import audit_dict, segment_dict, timeline, video_dict
from .words_view import transcript, word_lanes

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


def label_totals() -> dict[str, Any]:
    """label -> LabelTotal, maintained by the store (cached until the store changes)."""
    return archive().cached("label_totals", lambda: store().label_totals())


def restricted_summary() -> dict[str, Any] | None:
    """Videos showing any restricted category (cached until the store changes)."""
    taxonomy = archive().taxonomy
    return archive().cached("restricted", lambda: browsing.restricted_summary(
        taxonomy, store(), restricted_roots(taxonomy)))


def page_number(name: str = "page") -> int:
    """``?page=`` (from 1; default 1). Raises QueryError for anything but a whole number >= 1."""
    value = request.args.get(name) or "1"
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise QueryError(f"{name} must be 1 or more, got {number}")
    return number


def category_options() -> list[dict[str, Any]]:
    """Taxonomy categories for selects and datalists (id, name, depth, restricted)."""
    return [{"id": c.id, "name": c.name, "depth": c.id.count("/"), "restricted": c.restricted}
            for c in archive().taxonomy.categories]


def overall_stats() -> dict[str, Any]:
    """Number of indexed videos and their total duration (maintained counters)."""
    videos, duration = store().overview()
    return {"videos": videos, "duration": duration}


def _search_request() -> SearchRequest | None:
    """The request's query, or None for the bare search page. Raises QueryError."""
    return request_query(request.values, request.files, int(current_app.config["SEARCH_LIMIT"]))


def _like_info(req: SearchRequest | None) -> dict[str, Any] | None:
    if req is None or req.like is None:
        return None
    video_id, seconds = req.like
    try:
        name = store().get_video(video_id).path.name
    except NotFoundError:
        name = f"video {video_id}"
    return {"video_id": video_id, "time": seconds, "name": name}


def _explain_empty(req: SearchRequest, category_name: str) -> EmptyResult:
    """Plain words for a search that found nothing (see web/search_display.py)."""
    kind = "image" if req.image is not None else "like" if req.like is not None else "text"
    shown = req.category is not None and req.category in label_totals()
    parent = archive().taxonomy.get(req.category).parent if req.category else None
    return explain_empty(kind, req.label, category=category_name if req.category else None,
                         category_shown=shown, index_empty=store().vector_count() == 0,
                         parent=archive().taxonomy.get(parent).name if parent else None)


@bp.route("/", methods=["GET", "POST"])
@bp.route("/search", methods=["GET", "POST"])
@csrf_exempt  # searching changes nothing; an image upload is a POST only because of its size
def search():
    """Search page: text box, image upload, category filter; results grouped per video."""
    if request.method == "POST" and not (request.files.get("image") and request.files["image"].filename):
        return redirect(url_for("pages.search", q=request.form.get("q", "").strip() or None,
                                category=request.form.get("category") or None))
    status, error, response, req, feedback = 200, None, None, None, None
    try:
        req = _search_request()
        if req is not None:
            response, feedback = search_with_feedback(req, request.values)
    except (QueryError, NotFoundError) as exc:
        status, error = (404 if isinstance(exc, NotFoundError) else 400), str(exc)
    category = request.values.get("category") or ""
    names = {c["id"]: c["name"] for c in category_options()}
    empty = None if response is None or response["results"] else _explain_empty(req, names.get(category, category))
    return render_template(
        "search.html", active="search", q=request.values.get("q", ""), category=category,
        category_name=names.get(category, category), categories=category_options(),
        response=response, empty=empty, error=error, like_info=_like_info(req), stats=overall_stats(), feedback=feedback,
        upload_limit_mb=f"{current_app.config['MAX_CONTENT_LENGTH'] / 1048576:g}"), status


@bp.get("/browse")
def browse():
    """The taxonomy tree with videos and screen time per category (``?all=1`` also the empty
    ones, ``?filter=`` by name), collapsed; curator tags."""
    totals, taxonomy, stats = label_totals(), archive().taxonomy, overall_stats()
    rows = browsing.category_tree(taxonomy, totals, stats["duration"])
    show_all, text = request.args.get("all") == "1", (request.args.get("filter") or "").strip()[:100]
    return render_template("browse.html", active="browse", stats=stats,
                           tree=browsing.browse_tree(rows, show_all=show_all, text=text),
                           show_all=show_all, filter_text=text, total_categories=len(rows),
                           with_videos=sum(1 for row in rows if row["videos"]),
                           tags=browsing.tag_rows(taxonomy, totals), restricted=restricted_summary())


@bp.get("/browse/category/<path:category_id>")
def browse_category(category_id: str):
    """Videos showing a category (children included): how long and where."""
    taxonomy = archive().taxonomy
    cat = taxonomy.get(category_id)  # NotFoundError -> 404
    listing, page = browsing.label_listing(store(), taxonomy, cat.id, page_number())
    total = label_totals().get(cat.id)
    crumbs, parent = [], cat.parent
    while parent:
        crumbs.insert(0, taxonomy.get(parent))
        parent = crumbs[0].parent
    return render_template("category.html", active="browse", heading=cat.name, colour=label_colour(cat.id, category_colours(taxonomy.ids)),
                           restricted=cat.restricted, description=cat.description, crumbs=crumbs,
                           children=taxonomy.children(cat.id), listing=listing, page=page,
                           total=total.duration if total else 0.0)


@bp.get("/browse/tag/<path:tag>")
def browse_tag(tag: str):
    """Videos with a curator's free-text tag."""
    totals = label_totals()
    if tag not in browsing.tags(archive().taxonomy, totals):
        abort(404, f"no video has the tag {tag!r}")
    listing, page = browsing.label_listing(store(), archive().taxonomy, tag, page_number())
    return render_template("category.html", active="browse", heading=tag, colour=label_colour(tag),
                           restricted=False, description="Free-text tag added by curators.", crumbs=[],
                           children=[], listing=listing, page=page, total=totals[tag].duration)


@bp.get("/videos")
def videos():
    """Indexed videos with their top labels: a name filter, a sort order, pages (one page read)."""
    taxonomy, stats = archive().taxonomy, overall_stats()
    query = VideoQuery.from_args(request.args, int(current_app.config["VIDEOS_PER_PAGE"]))  # QueryError -> 400
    listing = list_videos(store(), query)
    chips = browsing.page_labels(store(), taxonomy, [v.id for v in listing.videos])
    rows = [{**video_dict(video), "file_size": file_size(video.size), "labels": chips[video.id],
             "href": url_for("pages.video", video_id=video.id), "poster": url_for("media.poster", video_id=video.id)}
            for video in listing.videos]
    return render_template("videos.html", active="videos", rows=rows, listing=listing, query=query,
                           indexed=stats["videos"], total=stats["duration"])


def parse_time(value: str | None, duration: float) -> float | None:
    """``?t=`` in seconds, clamped to the video. Raises QueryError for a non-number."""
    if value in (None, ""):
        return None
    try:
        t = float(value)
    except ValueError:
        raise QueryError(f"t must be a number of seconds, got {value!r}") from None
    if not math.isfinite(t) or t < 0:
        raise QueryError(f"t must be a number of seconds >= 0, got {value!r}")
    return min(t, duration)


@bp.get("/videos/<id:video_id>")
def video(video_id: int):
    """Player, timeline (lanes per label + shots), report form, curator tools, audit log."""
    from .segment_edits import audit_entries

    st, taxonomy = store(), archive().taxonomy
    record = st.get_video(video_id)  # NotFoundError -> 404
    t = parse_time(request.args.get("t"), record.duration)  # QueryError -> 400
    curator = current_user() is not None
    segments = st.segments(video_id, include_rejected=True)  # rejections decide coverage
    status, report, report_error, label = 200, None, None, (request.args.get("label") or "").strip()
    if label:
        try:
            report = {**label_report(st, record, label, taxonomy, archive().encoder).to_json(),
                      "video": shown_path(record.path)}
        except QueryError as exc:
            status, report_error = 400, str(exc)
    view = timeline(record, segments, st.cuts(video_id), taxonomy, show_rejected=curator, report=report,
                    transitions=st.transitions(video_id))
    segments = [s for s in segments if curator or s.status != "rejected"]
    tags = sorted({s.label for s in segments} - set(taxonomy.ids))
    words = st.words(video_id)
    view["word_lanes"] = word_lanes(words, record.duration)
    return render_template(
        "video.html", active="videos", video=video_dict(record), t=t, **view,
        segments=[segment_dict(s, category_colours(taxonomy.ids)) for s in segments], audit=[audit_dict(e) for e in audit_entries(video_id)],
        report=report, report_label=label, report_error=report_error,
        categories=category_options(), tags=tags, transcript=transcript(words),
        text_lines=[w for w in words if w.kind == "text"]), status
