"""Turn search requests (text, uploaded image, "more like this") into engine calls and
view models shared by the search page and ``/api/search``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import url_for

from indexer.errors import NotFoundError, QueryError
from indexer.types import format_timestamp
from search.query import parse_like as parse_query_like
from search.results import DEFAULT_K

from .archive import archive, shown_path
from .browsing import label_chip
from .search_display import add_strengths
from .timeline import category_colours, make_block

log = logging.getLogger(__name__)

PAGE_MAX_K = 100  # a page or API answer lists at most this many videos (the engine allows search.results.MAX_K)


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked: exactly one of ``text``, ``image`` (the uploaded file, decoded only
    when the search runs) or ``like``."""

    text: str = ""
    image: bytes | None = None
    like: tuple[int, float] | None = None
    category: str | None = None
    k: int = DEFAULT_K

    @property
    def label(self) -> str:
        """How the query is shown back to the user."""
        if self.image is not None:
            return "the uploaded image"
        if self.like is not None:
            return f"video {self.like[0]} at {format_timestamp(self.like[1])}"
        return self.text


def parse_like(value: str) -> tuple[int, float]:
    """``"12@3.5"`` -> (12, 3.5): :func:`search.query.parse_like`, with the video given by id.
    Raises QueryError for anything else."""
    video, seconds = parse_query_like(value)
    if not video.isdigit() or int(video) <= 0:
        raise QueryError(f"'like' wants VIDEO@SECONDS with a video id > 0 (e.g. 12@3.5), got {value!r}")
    return int(video), seconds


def parse_count(name: str, value: str | None, default: int, most: int) -> int:
    """A request's whole number ``name`` in 1..``most`` (``default`` when absent or empty).

    Raises: QueryError naming ``name`` for a value that is not a whole number or out of range.
    """
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, got {value!r}") from None
    if not 1 <= number <= most:
        raise QueryError(f"{name} must be between 1 and {most}, got {number}")
    return number


def parse_k(value: str | None, default: int) -> int:
    """Number of videos to return (1..PAGE_MAX_K). Raises QueryError for a bad number."""
    return parse_count("k", value, default, PAGE_MAX_K)


def request_query(values: Any, files: Any, k: int) -> SearchRequest | None:
    """The search a request asks for: an uploaded ``image``, ``like=ID@SECONDS`` or ``q`` text,
    with an optional ``category``; None when it asks for none. Raises QueryError."""
    category = (values.get("category") or "").strip() or None
    upload = files.get("image")
    if upload is not None and upload.filename:
        return SearchRequest(image=upload.read(), category=category, k=k)
    like = (values.get("like") or "").strip()
    if like:
        return SearchRequest(like=parse_like(like), category=category, k=k)
    text = (values.get("q") or "").strip()
    return SearchRequest(text=text, category=category, k=k) if text else None


def run_search(req: SearchRequest) -> Any:
    """Run ``req`` on the app's engine; returns its SearchResponse. An uploaded image is decoded
    by the app's upload decoders to about the encoder's input size and handed over as a PIL image.

    Raises QueryError / NotFoundError, DecoderBusy when every upload decoder is busy.
    """
    engine = archive().engine()
    filters = {"category": req.category} if req.category else {}
    if req.image is not None:
        image = archive().uploads.decode(req.image, archive().encoder().image_size)
        return engine.search_image(image, k=req.k, **filters)
    if req.like is not None:
        return engine.search_like(req.like[0], req.like[1], k=req.k, **filters)
    return engine.search(req.text, k=req.k, **filters)


def label_view(label: str, taxonomy: Any) -> dict[str, Any]:
    """A label for display (:func:`web.browsing.label_chip`): name, colour, restricted flag, link."""
    try:
        category = taxonomy.get(label)
    except NotFoundError:
        category = None
    return label_chip(category, label, category_colours(taxonomy.ids))


def scene_view(video_id: int, scene: dict[str, Any], taxonomy: Any, duration: float) -> dict[str, Any]:
    """One scene (:func:`search.results.scene_dict`) plus what a page shows: its place on the
    video's bar, label chips, thumbnail and links (page URLs relative to the app)."""
    block = make_block(scene["start"], scene["end"], duration, "")
    return {**scene, "left": block.left, "width": block.width,
            "label_info": [label_view(lab, taxonomy) for lab in scene["labels"]],
            "thumb": url_for("media.thumbnail", video_id=video_id, ms=int(round(scene["best_time"] * 1000))),
            "href": url_for("pages.video", video_id=video_id, t=round(scene["start"], 4)),
            "like_href": url_for("pages.search", like=f"{video_id}@{scene['best_time']:.3f}")}


def response_view(response: Any, req: SearchRequest, taxonomy: Any) -> dict[str, Any]:
    """The engine's response as plain data (used by the page and the JSON API): each result in
    the one shape of :meth:`search.results.VideoResult.to_dict`, plus links and display data."""
    results = []
    for rank, result in enumerate(response.results, 1):
        video, core = result.video, result.to_dict(rank, shown_path(result.video.path))
        results.append({**core, "name": video.path.name, "href": url_for("pages.video", video_id=video.id),
                        "scenes": [scene_view(video.id, s, taxonomy, video.duration) for s in core["scenes"]]})
    add_strengths(results, response.cutoff, response.fused)
    return {"query": req.text or None, "query_label": req.label, "category": req.category,
            "like": None if req.like is None else f"{req.like[0]}@{req.like[1]:.3f}",
            "message": response.message, "fused": response.fused, "results": results}
