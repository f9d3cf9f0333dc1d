"""Turn search requests (text, uploaded image, "more like this") into engine calls and
view models shared by the search page and ``/api/search``.
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import url_for
from PIL import Image

from indexer.errors import NotFoundError, QueryError
from indexer.types import format_timestamp

from .search_display import add_strengths
from .timeline import category_colours, label_colour, make_block

log = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 40_000_000
MAX_K = 100


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked: exactly one of ``text``, ``image`` or ``like``."""

    text: str = ""
    image: Image.Image | None = None
    like: tuple[int, float] | None = None
    category: str | None = None
    k: int = 20

    @property
    def label(self) -> str:
        """How the query is shown back to the user."""
        if self.image is not None:
            return "the uploaded image"
        if self.like is not None:
            return f"video {self.like[0]} at {format_timestamp(self.like[1])}"
        return self.text


def parse_like(value: str) -> tuple[int, float]:
    """``"12@3.5"`` -> (12, 3.5). Raises QueryError for anything else."""
    video, sep, seconds = value.partition("@")
    try:
        if not sep:
            raise ValueError
        vid, t = int(video), float(seconds)
    except ValueError:
        raise QueryError(f"'like' must be VIDEO_ID@SECONDS (e.g. 12@3.5), got {value!r}") from None
    if vid <= 0 or not math.isfinite(t) or t < 0:
        raise QueryError(f"'like' must be VIDEO_ID@SECONDS with an id > 0 and seconds >= 0, got {value!r}")
    return vid, t


def read_image(data: bytes) -> Image.Image:
    """Decode an uploaded image to RGB. Raises QueryError if it is not a readable image."""
    if not data:
        raise QueryError("the uploaded image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise QueryError(f"the image is too large ({image.width}x{image.height} pixels)")
            image.load()
    except QueryError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise QueryError(f"the uploaded file is not a readable image ({type(exc).__name__})") from None
    return image.convert("RGB")


def parse_k(value: str | None, default: int) -> int:
    """Number of videos to return (1..MAX_K). Raises QueryError for a bad number."""
    if value in (None, ""):
        return default
    try:
        k = int(value)
    except ValueError:
        raise QueryError(f"k must be a whole number, got {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def request_query(values: Any, files: Any, k: int) -> SearchRequest | None:
    """The search a request asks for: an uploaded ``image``, ``like=ID@SECONDS`` or ``q`` text,
    with an optional ``category``; None when it asks for none. Raises QueryError."""
    category = (values.get("category") or "").strip() or None
    upload = files.get("image")
    if upload is not None and upload.filename:
        return SearchRequest(image=read_image(upload.read()), category=category, k=k)
    like = (values.get("like") or "").strip()
    if like:
        return SearchRequest(like=parse_like(like), category=category, k=k)
    text = (values.get("q") or "").strip()
    return SearchRequest(text=text, category=category, k=k) if text else None


def run_search(engine: Any, req: SearchRequest) -> Any:
    """Call the engine; returns its SearchResponse. Raises QueryError / NotFoundError."""
    filters = {"category": req.category} if req.category else {}
    if req.image is not None:
        with tempfile.TemporaryDirectory(prefix="reelsearch-query-") as tmp:
            path = Path(tmp) / "upload.png"
            req.image.save(path, "PNG")
            return engine.search_image(path, k=req.k, **filters)
    if req.like is not None:
        return engine.search_like(req.like[0], req.like[1], k=req.k, **filters)
    return engine.search(req.text, k=req.k, **filters)


def label_view(label: str, taxonomy: Any) -> dict[str, Any]:
    """A label for display: its name, colour, restricted flag and whether it is a category."""
    try:
        category = taxonomy.get(label)
    except NotFoundError:
        category = None
    return {"id": label, "name": category.name if category else label,
            "colour": label_colour(label, category_colours(taxonomy.ids)), "restricted": bool(category and category.restricted),
            "is_category": category is not None}


def scene_view(video_id: int, scene: Any, taxonomy: Any, duration: float) -> dict[str, Any]:
    """One scene: times, score, labels, thumbnail and links (page URLs relative to the app)."""
    block = make_block(scene.start, scene.end, duration, "")
    return {"left": block.left, "width": block.width,"start": scene.start, "end": scene.end, "best_time": scene.best_time,
            "start_hms": format_timestamp(scene.start), "end_hms": format_timestamp(scene.end),
            "score": scene.score, "labels": [label_view(lab, taxonomy) for lab in scene.labels],
            "thumb": url_for("media.thumbnail", video_id=video_id, ms=int(round(scene.best_time * 1000))),
            "href": url_for("pages.video", video_id=video_id, t=round(scene.start, 4)),
            "like_href": url_for("pages.search", like=f"{video_id}@{scene.best_time:.3f}")}


def response_view(response: Any, req: SearchRequest, taxonomy: Any) -> dict[str, Any]:
    """The engine's response as plain data (used by the page and the JSON API)."""
    results = []
    for result in response.results:
        video = result.video
        results.append({"video_id": video.id, "name": video.path.name, "path": str(video.path),
                        "duration": video.duration, "score": result.score,
                        "href": url_for("pages.video", video_id=video.id),
                        "scenes": [scene_view(video.id, s, taxonomy, video.duration) for s in result.scenes]})
    add_strengths(results, response.cutoff)
    return {"query": req.text or None, "query_label": req.label, "category": req.category,
            "like": None if req.like is None else f"{req.like[0]}@{req.like[1]:.3f}",
            "message": response.message, "results": results}
