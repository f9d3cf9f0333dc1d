"""Relevance cutoff: which frames count as a match, relative to a background, not one global cosine.

CLIP's cosines carry no absolute meaning: a good text match scores ~0.3 and so does an ordinary
frame against a generic caption, so "top k by cosine" always returns something, padded with
junk. Here every frame is judged against what it would score anyway:

**Text queries** (method ``background``, the same rule as a free-text label in
``reelsearch report --label``, see indexer/classify.py). For frame ``f`` with cosine ``s_q`` to the
query vector, cosines ``s_b`` to the taxonomy's background prompts ("a photo", "a person", ...)
and ``s_n`` to the query's negative terms::

    p = softmax(100 * [s_q, s_b..., s_n...])[0]

``f`` is a hit iff ``p >= threshold`` (the taxonomy's default label threshold, 0.5), ``s_q``
beats every background prompt and every negative outright, and ``s_q`` clears the query's
*floor* (below). A query that describes a frame better than generic captions do matches it; a
query that fits nothing ("giraffe" in an archive without animals) loses to "a photo" everywhere
and returns nothing. A frame that looks more like a negative (``-night``) than like the query is
never a hit.

**Floor** (the query against the index): the query's scores over a random sample of index
frames give its own null distribution; a hit needs ``s_q >= median + Z * spread`` with
``spread = max(median - P16, MIN_SPREAD)`` -- a standard deviation estimated from the lower half
only, so the matches themselves (the upper tail) do not inflate it. ``Z`` is :data:`TEXT_Z` (5)
for text, where it guards the background test against the far tail of a big index (among a
million frames some beat the background by chance). The sample has the same size whatever the
archive's, so the floor does not move with it; Z is set so that the far tail stays empty up to
a million frames: on the synthetic archive of ``benchmarks/bench_scale.py`` queries for absent
concepts return 0.15 videos on average at 100k frames with Z=4 and none with Z=5 at 10k, 100k
and 1M frames, while every video of a present concept is found (recall 1.00; Z=5.5 starts to
miss whole concepts). ``Z`` is :data:`IMAGE_Z` (4) for image queries
(``--image``/``--like``, method ``distribution``), where it is the whole test: image-to-image
cosines have no text background to compare with (CLIP: unrelated frames ~0.5 +/- 0.07, the same
kind of scene ~0.75 or more). For a text query with negatives the floor is taken on its positive
terms: the negatives push what they describe far down, which would widen the distribution and
lift the floor. ``MIN_SPREAD`` makes a query whose scores are
flat over the whole index (no signal at all) match nothing. For image queries the floor is capped
at :data:`NEAR_DUPLICATE` (cosine 0.95): in a small or uniform index (36 frames of one street, say)
the median and spread put ``median + Z * spread`` at or above 1, above the query's own frame, and
the query's own frame and its near-duplicates must always be found. The floor assumes a query matches
well under a third of the index, so for text it applies only once the index holds
:data:`MIN_FLOOR_FRAMES` frames; below that (a small archive, where one query may rightly match
most frames) the background test alone decides. For a big but uniform archive use ``--min-score``.

**min_score** (``--min-score X``) replaces all of the above by an absolute cosine ``s_q >= X``;
negatives still exclude frames that look more like them than like the query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from indexer.labels.classify import first_softmax

from .query import QueryVectors

log = logging.getLogger(__name__)

#: Background prompts used when no taxonomy is given (the default taxonomy has its own).
DEFAULT_BACKGROUND: tuple[str, ...] = ("a photo", "a video frame", "a person", "a blurry image",
                                       "text on a screen", "a black screen")
#: Default probability a text query needs against the background (the taxonomy default is 0.5).
DEFAULT_THRESHOLD = 0.5
#: Robust standard deviations above the median of its index scores a text query's hit needs.
TEXT_Z = 5.0
#: The same for image queries, where the distribution is the only test.
IMAGE_Z = 4.0
#: An image query's threshold is never above this cosine: its own frame and near-duplicates
#: (the same picture re-encoded, resized or slightly cropped score 0.95 or more) always match.
NEAR_DUPLICATE = 0.95
#: Least spread (cosine) assumed for a query's score distribution.
MIN_SPREAD = 0.01
#: A text query's floor applies only when the index sample has at least this many frames: the
#: far tail it guards against needs a big index, and in a small archive a query may rightly
#: match most frames (then the background test alone decides).
MIN_FLOOR_FRAMES = 1000

METHODS = ("background", "distribution", "min_score")


@dataclass(frozen=True)
class Cutoff:
    """How one query's hits were told from non-hits.

    ``threshold`` is a probability for ``background`` and a cosine for the other methods;
    ``floor`` is the least cosine a hit has (``-1`` when none applies) to the query, or to its
    positive terms when ``floor_on_query`` is False (a text query with negatives).
    """

    method: str
    threshold: float
    floor: float = -1.0
    floor_on_query: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"cutoff method must be one of {METHODS}, got {self.method!r}")
        if not -1.0 <= self.floor <= 1.0:
            raise ValueError(f"floor must be a cosine in [-1, 1], got {self.floor!r}")

    @property
    def least_score(self) -> float:
        """No frame whose cosine to the query is below this can be a hit."""
        if self.method == "min_score":
            return self.threshold
        floor = self.floor if self.floor_on_query else -1.0
        return max(floor, self.threshold) if self.method == "distribution" else floor

    def describe(self) -> str:
        """What a hit needs, as a phrase for people."""
        if self.method == "background" and self.floor <= -1.0:
            return f"p >= {self.threshold:.2f} against the background prompts"
        if self.method == "background":
            terms = "" if self.floor_on_query else " of the positive terms"
            return (f"p >= {self.threshold:.2f} against the background prompts and cosine{terms} >= "
                    f"{self.floor:.3f} (far above the query's typical score in the index)")
        if self.method == "distribution":
            return f"cosine >= {self.threshold:.3f} (far above the query's typical score in the index)"
        return f"cosine >= {self.threshold:.3f} (--min-score)"

    def to_dict(self) -> dict:
        return {"method": self.method, "threshold": self.threshold, "floor": self.floor,
                "description": self.describe()}


@dataclass(frozen=True, eq=False)
class FrameJudge:
    """Scores frames against a query and says which are hits (rules in the module docstring)."""

    cutoff: Cutoff
    query: np.ndarray  # (d,) unit query vector
    background: np.ndarray  # (B, d) background prompt vectors (background method only)
    negatives: np.ndarray  # (m, d) negative term vectors
    positive: np.ndarray | None = None  # (d,) what the floor applies to when not the query

    def __post_init__(self) -> None:
        d = self.query.shape[0]
        if (self.positive is None) != self.cutoff.floor_on_query:
            raise ValueError("give a positive vector exactly when the floor is not on the query")
        if self.query.ndim != 1 or self.background.ndim != 2 or self.negatives.ndim != 2:
            raise ValueError("query must be (d,), background and negatives (n, d)")
        if self.background.shape[1] != d or self.negatives.shape[1] != d:
            raise ValueError("background and negatives must have the query's dimension")
        if self.cutoff.method == "background" and len(self.background) == 0:
            raise ValueError("the background method needs at least one background prompt")

    def judge(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, d) frame embeddings -> (scores (N,) cosines to the query, hits (N,) bool)."""
        v = np.asarray(vectors, dtype=np.float32).reshape(-1, self.query.shape[0])
        scores = (v @ self.query).astype(np.float64)
        hits = (scores if self.positive is None else v @ self.positive) >= self.cutoff.floor
        if self.cutoff.method == "background":
            rivals = (v @ np.concatenate([self.background, self.negatives]).T).astype(np.float64)
            hits &= (scores > rivals.max(axis=1)) & (first_softmax(scores, rivals) >= self.cutoff.threshold)
        else:
            hits &= scores >= self.cutoff.threshold
            if len(self.negatives):
                hits &= scores > (v @ self.negatives.T).max(axis=1)
        return scores, hits


def distribution_floor(query: np.ndarray, sample: np.ndarray, z: float) -> float:
    """``median + z * max(median - P16, MIN_SPREAD)`` of the query's scores over ``sample``
    (-1 for an empty sample: no floor)."""
    if len(sample) == 0:
        return -1.0
    median, p16 = np.quantile(sample @ query, [0.5, 0.16])
    return float(np.clip(median + z * max(median - p16, MIN_SPREAD), -1.0, 1.0))


def text_judge(query: QueryVectors, background: np.ndarray, sample: np.ndarray,
               threshold: float = DEFAULT_THRESHOLD, z: float = TEXT_Z) -> FrameJudge:
    """Judge for a text query: background prompts and negatives compete with it, above its floor.

    The floor is taken on the positive terms: negatives push the frames they describe far down,
    which would widen the query's own distribution and lift its floor.

    Raises:
        ValueError: no background prompt, or a threshold outside (0, 1).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold!r}")
    plain = len(query.negatives) == 0
    floor = -1.0
    if len(sample) >= MIN_FLOOR_FRAMES:
        floor = distribution_floor(query.query if plain else query.positive, sample, z)
    cutoff = Cutoff("background", threshold, floor, floor_on_query=plain)
    return FrameJudge(cutoff, query.query, background, query.negatives, None if plain else query.positive)


def image_judge(query: np.ndarray, sample: np.ndarray, z: float = IMAGE_Z) -> FrameJudge:
    """Judge for an image query: its floor over the index sample, capped at :data:`NEAR_DUPLICATE`,
    is the threshold (so the query's own frame and its near-duplicates always match)."""
    empty = np.zeros((0, query.shape[0]), dtype=np.float32)
    floor = min(distribution_floor(query, sample, z), NEAR_DUPLICATE)
    return FrameJudge(Cutoff("distribution", floor, floor), query, empty, empty)


def absolute_judge(query: np.ndarray, negatives: np.ndarray, min_score: float) -> FrameJudge:
    """Judge for ``--min-score``: a plain cosine threshold (negatives still exclude).

    Raises:
        ValueError: ``min_score`` outside [-1, 1].
    """
    if not -1.0 <= min_score <= 1.0:
        raise ValueError(f"min_score is a cosine in [-1, 1], got {min_score!r}")
    empty = np.zeros((0, query.shape[0]), dtype=np.float32)
    return FrameJudge(Cutoff("min_score", float(min_score)), query, empty, negatives)
