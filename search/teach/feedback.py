"""Relevance feedback: thumbs up / down on result scenes refine a query, and a refined query can
become a category.

**Rocchio.** With ``q`` the query vector and ``u``/``d`` the mean embeddings of the scenes marked
up / down (each scene the mean of its stored frames), the refined query is
``unit(ALPHA * q + BETA * u - GAMMA * d)``; it is searched like an image query (the same
relative cutoff), so it works for any encoder.

**Save as category.** The refined vector becomes a user category (stored, never written into
the taxonomy file) whose prompt is the query text and whose head scores ``cos(v, q')``: present
where the cosine passes the midpoint between the marked-up frames (10th percentile) and the
archive's frames at large (90th percentile of a sample, with the marked-down frames), with a
logistic ramp as wide as the archive's spread. Every stored video is then labelled with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.errors import QueryError
from indexer.labels.heads import LearnedHead
from indexer.labels.taxonomy import Taxonomy
from indexer.labels.truth import inside
from indexer.store import Store
from indexer.store.teaching import UserCategory
from search.scenes import standing_frame

ALPHA, BETA, GAMMA = 1.0, 0.75, 0.25
MAX_MARKS = 50
SAMPLE_FRAMES = 2000
_MARK = re.compile(r"^(\d+)@(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Mark:
    """A scene marked up or down: video id and span in seconds (``"12@3.5-7.25"``)."""

    video_id: int
    start: float
    end: float

    def __str__(self) -> str:
        return f"{self.video_id}@{self.start:g}-{self.end:g}"


def parse_marks(values: Sequence[str]) -> tuple[Mark, ...]:
    """Marks from ``VIDEO@START-END`` strings (duplicates dropped). Raises QueryError."""
    marks = []
    for value in values:
        match = _MARK.match((value or "").strip())
        if not match or float(match.group(3)) < float(match.group(2)):
            raise QueryError(f"a marked scene is VIDEO_ID@START-END in seconds (e.g. 12@3.5-7.25), got {value!r}")
        marks.append(Mark(int(match.group(1)), float(match.group(2)), float(match.group(3))))
    if len(marks) > MAX_MARKS:
        raise QueryError(f"at most {MAX_MARKS} marked scenes, got {len(marks)}")
    return tuple(dict.fromkeys(marks))


def scene_frames(store: Store, marks: Sequence[Mark]) -> np.ndarray:
    """The stored frame embeddings inside the marked scenes; for a scene with none inside (a
    point in time, or a span between two stored frames) the frame that stands for its middle
    (:func:`~search.scenes.standing_frame`: the one on screen then, never another shot's).
    Raises NotFoundError for an unknown video."""
    parts = []
    for mark in marks:
        _ids, times, vectors = store.frames(mark.video_id)
        if not len(times):
            continue
        hit = inside(times, [(mark.start, mark.end + 1e-6)])
        if not hit.any():
            hit[standing_frame(times, store.boundaries(mark.video_id), (mark.start + mark.end) / 2)] = True
        parts.append(vectors[hit])
    return np.concatenate(parts) if parts else np.zeros((0, store.dim or 0), np.float32)


def rocchio(query: np.ndarray, up: np.ndarray, down: np.ndarray) -> np.ndarray:
    """The refined query (module docstring); rows of ``up``/``down`` are frame embeddings."""
    q = ALPHA * np.asarray(query, np.float64)
    if len(up):
        q = q + BETA * _unit(np.mean(up, axis=0))
    if len(down):
        q = q - GAMMA * _unit(np.mean(down, axis=0))
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or norm < 1e-9:
        raise QueryError("the marked scenes cancel the query out; mark fewer scenes down")
    return (q / norm).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) or 1.0)


def refine(store: Store, query: np.ndarray, up: Sequence[Mark], down: Sequence[Mark]) -> np.ndarray:
    """Rocchio of ``query`` with the scenes marked ``up`` and ``down``."""
    return rocchio(query, scene_frames(store, up), scene_frames(store, down))


def query_vector(store: Store, engine: Any, *, text: str | None, like: tuple[int, float] | None) -> np.ndarray:
    """The vector of a text query (``engine.embed``) or of a "more like" frame (the stored frame
    nearest ``like``'s seconds), to refine. Raises QueryError for neither, NotFoundError."""
    if like is not None:
        _ids, times, vectors = store.frames(like[0])
        if not len(times):
            raise QueryError(f"video {like[0]} has no indexed frames")
        return vectors[int(abs(times - like[1]).argmin())]
    if text:
        from search.query import parse_query

        return engine.embed(parse_query(text)).query
    raise QueryError("feedback refines text and \"more like this\" searches; search by text first")


def feedback_head(store: Store, vector: np.ndarray, up: Sequence[Mark], down: Sequence[Mark],
                  rng: np.random.Generator | None = None) -> LearnedHead:
    """A head scoring the cosine with ``vector`` (module docstring). Raises QueryError without
    a scene marked up."""
    pos = scene_frames(store, up)
    if not len(pos):
        raise QueryError("mark at least one scene up (thumbs up) to save a category")
    rest = _sample(store, rng or np.random.default_rng(0))
    background = np.concatenate([rest, scene_frames(store, down)]) if len(rest) or down else pos[:0]
    v = np.asarray(vector, np.float64)
    pos_cos, bg_cos = pos @ v, background @ v if len(background) else np.zeros(1)
    cut = (float(np.percentile(pos_cos, 10)) + float(np.percentile(bg_cos, 90))) / 2
    spread = max(1e-3, float(np.std(bg_cos)))
    return LearnedHead(v / spread, -cut / spread, (1.0, 0.0), 0.5)


def _sample(store: Store, rng: np.random.Generator) -> np.ndarray:
    videos = store.list_videos()
    if not videos:
        return np.zeros((0, store.dim or 0), np.float32)
    per_video = max(1, SAMPLE_FRAMES // len(videos))
    parts = []
    for video in rng.permutation(len(videos))[:SAMPLE_FRAMES]:
        vectors = store.frames(videos[int(video)].id)[2]
        if len(vectors):
            parts.append(vectors[rng.permutation(len(vectors))[:per_video]])
    return np.concatenate(parts) if parts else np.zeros((0, store.dim or 0), np.float32)


def category_id(name: str, taxonomy: Taxonomy) -> str:
    """A new top-level category id from ``name`` ("Sunscreen beach" -> "sunscreen-beach").

    Raises QueryError for a name without letters or digits, or one the taxonomy has.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")[:60]
    if not slug:
        raise QueryError("give the new category a name (letters or digits)")
    if slug in taxonomy.ids or taxonomy.find(name) is not None:
        raise QueryError(f"a category {slug!r} exists already; choose another name")
    return slug


def save_category(store: Store, taxonomy: Taxonomy, texts: Any, *, name: str, prompt: str, vector: np.ndarray,
                  up: Sequence[Mark], down: Sequence[Mark], user: str | None) -> tuple[UserCategory, int]:
    """Create a user category from a refined query and label every stored video with it.

    Returns the category and the model version. Raises QueryError (bad name, nothing marked up),
    StoreError (read-only).
    """
    from indexer.pipeline.labelling import with_user_categories

    from .learn import add_head

    cat_id = category_id(name, taxonomy)
    head = feedback_head(store, vector, up, down)
    category = store.teaching.add_user_category(cat_id, name.strip(), [prompt.strip() or name.strip()], user)
    trained_on = {"query": prompt, "up": [str(m) for m in up], "down": [str(m) for m in down]}
    run_id = add_head(store, with_user_categories(taxonomy, store), texts, cat_id, head, trained_on, user)
    return category, run_id
