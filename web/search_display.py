"""How search results look to people: how strong each match is, and why there is none.

**Strength** (0..1) places a scene's score between the search's cutoff and its best match:
``(score - low) / (best - low)``, where ``low`` is the least score a hit could have (the
cutoff's floor) when the engine used one, else :data:`WEAK_MARGIN` below the best match. At
CLIP's logit scale (100) a cosine 0.05 lower is e^-5, about 150 times less likely, so a scene
that far below the best is shown as weak. A query with word clauses scores by fused ranks,
already 0..1 (1: first in every part of the query): that score is the strength. Pages draw it
as a bar and fade weak scenes.

**Empty results** are explained in plain words from what the user asked (text, image, a frame)
and what is set (a category), never with cosines or probabilities; removing a filter is
suggested only when one is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

#: Without a cutoff floor, a score this far (cosine) below the best match has strength 0.
WEAK_MARGIN = 0.05
#: Scenes below this strength are drawn faded.
WEAK = 0.34


def strength_range(cutoff: Any, scores: Sequence[float]) -> tuple[float, float] | None:
    """(low, best) for :func:`strength`; None when there are no scores."""
    if not scores:
        return None
    best = max(scores)
    least = getattr(cutoff, "least_score", -1.0) if cutoff is not None else -1.0
    low = least if -1.0 < least < best else best - WEAK_MARGIN
    return low, best


def strength(score: float, low: float, best: float) -> float:
    """Where ``score`` lies between ``low`` (0) and ``best`` (1), clipped, to 3 decimals."""
    if not math.isfinite(score) or best <= low:
        return 1.0
    return round(min(1.0, max(0.0, (score - low) / (best - low))), 3)


def add_strengths(results: list[dict[str, Any]], cutoff: Any, fused: bool = False) -> None:
    """Set ``strength`` on every scene (and each video: its best scene's) of ``results``
    (``response_view`` dicts), in place; ``fused``: the scores are fused ranks (0..1)."""
    scores = [scene["score"] for video in results for scene in video["scenes"]]
    bounds = (0.0, 1.0) if fused and scores else strength_range(cutoff, scores)
    if bounds is None:
        return
    for video in results:
        for scene in video["scenes"]:
            scene["strength"] = strength(scene["score"], *bounds)
            scene["weak"] = scene["strength"] < WEAK
        video["strength"] = max(scene["strength"] for scene in video["scenes"])


@dataclass(frozen=True)
class EmptyResult:
    """What to tell a user whose search found nothing."""

    headline: str
    reason: str
    tips: tuple[str, ...]


def explain_empty(kind: str, query_label: str, *, category: str | None, category_shown: bool,
                  index_empty: bool, parent: str | None = None) -> EmptyResult:
    """Plain-words explanation of an empty result.

    ``kind``: "text", "image" or "like"; ``category``: the filter's display name (None if no
    filter) and ``parent`` its parent's; ``category_shown``: whether any indexed video shows it.
    """
    where = f" in {category}" if category else ""
    headline = f"No matching scenes for “{query_label}”{where}"
    if index_empty:
        return EmptyResult(headline, "Nothing has been indexed yet.",
                           ("Index some videos with reelsearch index PATH, then search again.",))
    if category and not category_shown:
        return EmptyResult(headline, f"No indexed video shows {category}, so nothing could match.",
                           ("Search all categories, or pick a category that has videos on the "
                            "Browse page.",))
    reason = {
        "text": "No scene looks like this description clearly enough: in every frame a generic "
                "description (“a photo”, “a person”) fits better.",
        "image": "No scene looks close enough to the uploaded picture.",
        "like": "No other scene looks close enough to this frame.",
    }[kind]
    tips = {
        "text": ["Describe what is visible (“red car on a wet street”) rather than a story or brand.",
                 "Try fewer or broader words."],
        "image": ["Try a picture that shows the scene itself, without borders or captions."],
        "like": ["Pick a frame that shows the subject clearly."],
    }[kind]
    if category:
        wider = f", or {parent} (its parent category)" if parent else ""
        tips.append(f"Search all categories instead of only {category}{wider}.")
    return EmptyResult(headline, reason, tuple(tips))
