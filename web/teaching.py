"""The curator loop as the web app runs it: eval figures, the review queue, reviewed marks,
undo, learning and rollback, relevance feedback and "save as category".

Reads use the shared read-only store; changes use a short-lived writable store, as curator
edits do (:mod:`web.curating`). Shared by the pages and the JSON API of :mod:`web.teach`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from indexer.errors import QueryError
from indexer.store import reviews
from search.teach.curator_cli import save_as_category as save_refined
from search.teach.curator_cli import set_reviewed as mark_reviewed
from search.teach.evaluate import eval_report
from search.teach.feedback import Mark, parse_marks, refine
from search.teach.feedback import query_vector as feedback_query_vector
from search.teach.learn import learn, models, rollback
from search.teach.review import review_queue

from flask import url_for

from .archive import archive, store, writable_store
from .segment_edits import apply_change

log = logging.getLogger(__name__)

BATCH_ACTIONS = ("accept", "reject", "undo")
MAX_BATCH = 200


def _texts(st: Any) -> Any:
    return st.cached_texts(archive().encoder(), "prompt")


def category_of(value: Any, *, required: bool = False) -> str | None:
    """A category id of the taxonomy from a request value (id or name). Raises QueryError/NotFoundError."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise QueryError("category is required (a category id)")
        return None
    taxonomy = archive().taxonomy
    found = taxonomy.find(text)
    return found.id if found else taxonomy.get(text).id


def eval_figures(category: str | None) -> dict[str, Any]:
    """The eval report as JSON-able data (cached until the store changes)."""
    def compute() -> dict[str, Any]:
        st = store()
        return eval_report(st, archive().taxonomy, _texts(st), category).to_dict()

    return archive().cached(f"eval:{category}", compute)


def queue(category: str | None, limit: int) -> list[dict[str, Any]]:
    """The review queue as JSON-able rows (thumbnail URL and priority parts included)."""
    st, taxonomy = store(), archive().taxonomy
    zero_shot, current = models(st, taxonomy, _texts(st))
    return [c.to_dict() for c in review_queue(st, taxonomy, zero_shot, current, category=category, limit=limit)]


def set_reviewed(video_id: int, category: str, user: str, reviewed: bool) -> dict[str, Any]:
    """Mark (or unmark) a video reviewed for a category. Raises NotFoundError/QueryError/StoreError."""
    store().get_video(video_id)
    with writable_store() as writer:
        return mark_reviewed(writer, video_id, category, user, reviewed)


def undo(segment_id: int, user: str) -> Any:
    """Undo the last accept/reject of a segment; returns the SegmentRecord."""
    store().get_segment(segment_id)
    with writable_store() as writer:
        return reviews.undo(writer, segment_id, user)


def batch(actions: Any, user: str) -> list[Any]:
    """Apply ``[{"segment_id", "action"}]`` (accept, reject, undo) in order; returns the segments.

    Raises QueryError for a malformed list (nothing applied), else what each action raises.
    """
    if not isinstance(actions, list) or not actions or len(actions) > MAX_BATCH:
        raise QueryError(f"actions must be a list of 1 to {MAX_BATCH} {{segment_id, action}} objects")
    steps = []
    for item in actions:
        if not isinstance(item, Mapping) or item.get("action") not in BATCH_ACTIONS or \
                not isinstance(item.get("segment_id"), int) or isinstance(item.get("segment_id"), bool):
            raise QueryError(f"each action is {{\"segment_id\": N, \"action\": one of {', '.join(BATCH_ACTIONS)}}}")
        steps.append((item["action"], item["segment_id"]))
    return [undo(seg, user) if action == "undo" else apply_change(action, user, segment_id=seg)
            for action, seg in steps]


def relearn(category: str | None, user: str) -> dict[str, Any]:
    """Learn, and report how precision/recall moved (overall figures before and after)."""
    before = eval_figures(category)["overall"]["current"]
    with writable_store() as writer:
        report = learn(writer, archive().taxonomy, _texts(writer), category=category, user=user).to_dict()
        after = eval_report(writer, archive().taxonomy, _texts(writer), category).to_dict()["overall"]["current"]
    log.info("curator %s: learn %s -> version %s", user, category or "all", report["version"])
    return {**report, "before": before, "after": after}


def roll_back(user: str) -> dict[str, Any]:
    """Roll the newest model version back. Raises NotFoundError when there is none."""
    with writable_store() as writer:
        result = rollback(writer, archive().taxonomy, _texts(writer))
    log.info("curator %s: rolled back version %s", user, result["rolled_back"])
    return result


def marks_of(values: Any) -> tuple[tuple[Mark, ...], tuple[Mark, ...]]:
    """(up, down) marks of a request (``up``/``down`` repeated). Raises QueryError."""
    return parse_marks(values.getlist("up")), parse_marks(values.getlist("down"))


def query_vector(req: Any) -> Any:
    """The vector of a text or "more like" query, to refine. Raises QueryError for an image query."""
    return feedback_query_vector(store(), archive().engine(), text=req.text, like=req.like)


def refined_search(req: Any, up: Sequence[Mark], down: Sequence[Mark]) -> Any:
    """Run the query refined by the marked scenes (Rocchio). Returns the engine's SearchResponse."""
    vector = refine(store(), query_vector(req), up, down)
    label = f"{req.label} (refined: {len(up)} up, {len(down)} down)"
    filters = {"category": req.category} if req.category else {}
    return archive().engine().search_vector(vector, label, k=req.k, **filters)


def save_as_category(req: Any, up: Sequence[Mark], down: Sequence[Mark], name: str, user: str) -> dict[str, Any]:
    """Store the refined query as a new category and label every video with it."""
    vector = refine(store(), query_vector(req), up, down)
    with writable_store() as writer:
        return save_refined(writer, archive().taxonomy, _texts(writer), name=name, text=req.text, vector=vector,
                            up=up, down=down, user=user)


def search_with_feedback(req: Any, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a search, refined by the ``up``/``down`` marks of the request when there are any.

    Returns the response view (each scene with its thumbs links) and the feedback state
    (marks, whether the search was refined). Raises QueryError / NotFoundError.
    """
    from .search_requests import response_view, run_search

    up, down = marks_of(values)
    refined = bool(up or down) and req.image is None
    response = refined_search(req, up, down) if refined else run_search(req)
    view = response_view(response, req, archive().taxonomy)
    if refined:
        view["query_label"] = response.query
    base = {key: values.get(key) for key in ("q", "like", "category") if values.get(key)}
    ups, downs = [str(m) for m in up], [str(m) for m in down]
    for result in view["results"]:
        for scene in result["scenes"]:
            mark = str(Mark(result["video_id"], round(scene["start"], 3), round(scene["end"], 3)))
            state = "up" if mark in ups else "down" if mark in downs else None
            scene["feedback"] = {"mark": mark, "state": state,
                                 "up_href": _toggle(base, ups, downs, mark, "up"),
                                 "down_href": _toggle(base, ups, downs, mark, "down")}
    clear = url_for("pages.search", **base)
    return view, {"up": ups, "down": downs, "refined": refined, "clear_href": clear,
                  "can_refine": req.image is None}


def _toggle(base: dict[str, Any], ups: list[str], downs: list[str], mark: str, side: str) -> str:
    """The search URL with ``mark`` moved to ``side`` (or taken off it if it is there already)."""
    up = [m for m in ups if m != mark]
    down = [m for m in downs if m != mark]
    if (mark not in ups and side == "up") or (mark not in downs and side == "down"):
        (up if side == "up" else down).append(mark)
    return url_for("pages.search", **base, up=up, down=down)
