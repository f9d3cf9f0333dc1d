"""Scene search over the store: text, image file or "more like this frame" -> videos with scenes.

One search:

1. The query becomes a unit vector (:mod:`search.query` for text, with an LRU of term embeddings;
   an image file or a stored frame's embedding otherwise) and a :class:`~search.cutoff.FrameJudge`
   that tells hits from non-hits relative to a background (see :mod:`search.cutoff`).
2. Filters are resolved through the catalog into candidate video ids (:mod:`search.filters`).
3. ``store.search_vectors`` returns the nearest frames, over-fetched (:data:`OVERFETCH` x ``k``,
   within [:data:`MIN_FETCH`, :data:`MAX_FETCH`]); they only *select* candidate videos, ranked by
   their best frame. When they come from fewer than ``k`` videos and the last one still clears
   the cutoff (long videos crowding the list), up to :data:`MAX_FETCH` frames are fetched.
4. Candidate videos are re-scored exactly, best first: every sampled frame of the video is judged
   from its stored embedding, so scenes are complete even where the top-N frames were not, and
   the hits are grouped into scenes (:mod:`search.scenes`) labelled with the labels present
   there (:mod:`indexer.store.coverage`). A video's best retrieved frame is its best frame (exact search; IVF-SQ8 within
   :data:`APPROX_MARGIN`), so re-scoring stops at the first candidate whose best frame is below
   the cutoff's least score, once ``k`` videos are found and the next candidate cannot beat the
   k-th, or after ``max(MIN_RESCORED, MAX_RESCORED_FACTOR * k)`` candidates.
5. Videos are ranked by their best scene's cosine. No hit at all gives an empty response whose
   message says so and how to widen the search.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from indexer.store.coverage import label_tree, video_coverage
from indexer.models.encoder import Encoder, l2_normalize
from indexer.errors import EncoderMismatchError, QueryError
from indexer.labels.taxonomy import Taxonomy

from .cutoff import DEFAULT_BACKGROUND, DEFAULT_THRESHOLD, FrameJudge, absolute_judge, image_judge, text_judge
from .embedding import cached_texts, encode_image
from .filters import Filters, VideoDurations, VideoSet, candidate_videos
from .fusion import fuse
from .query import ParsedQuery, QueryVectors, embed_query, parse_query, with_negatives
from .results import DEFAULT_K, MAX_K, SearchResponse, VideoResult
from .sample import IndexSample
from .scenes import attach_labels, group_scenes, standing_frame, video_score
from .words import WordClause, find_words, split_query

log = logging.getLogger(__name__)

OVERFETCH = 50  # frames fetched per video asked for
MIN_FETCH = 256
MAX_FETCH = 4096
MAX_RESCORED_FACTOR = 2  # re-score at most max(MIN_RESCORED, MAX_RESCORED_FACTOR * k) videos
MIN_RESCORED = 32
WORD_VISUAL_K = 100  # videos the visual part of a query with word clauses brings to the fusion
GAP_SAMPLES = 2.0  # a scene bridges misses of up to this many sampling intervals
POSTFILTER_SHARE = 0.5  # filters passing more of the videos than this filter after retrieval
APPROX_MARGIN = 0.02  # how far an approximate (IVF-SQ8) score may lie below the exact cosine


class SearchEngine:
    """Searches one store with one encoder; thread-safe for concurrent searches.

    Args:
        store: an open :class:`indexer.store.Store` (or any object with its read methods).
        encoder: the encoder the store was built with (text and image queries need it).
        taxonomy: for category/restricted filters and background prompts (None: no category
            filters, :data:`search.cutoff.DEFAULT_BACKGROUND` prompts, threshold 0.5).
    """

    def __init__(self, store: Any, encoder: Encoder | None, taxonomy: Taxonomy | None = None, *,
                 sample: IndexSample | None = None) -> None:
        """Raises: EncoderMismatchError if the encoder's dimension is not the store's."""
        dim = getattr(store, "dim", None)
        if encoder is not None and dim is not None and encoder.dim != dim:
            raise EncoderMismatchError(f"encoder {encoder.name} embeds into {encoder.dim} dimensions, the "
                                       f"index holds {dim}; search with the encoder the index was built with")
        single_threaded_blas()
        self.store = store
        self.encoder = encoder
        self.taxonomy = taxonomy
        self.texts = None if encoder is None else cached_texts(encoder)
        self.sample = sample or IndexSample(store)
        self.durations = VideoDurations(store)
        self._background: np.ndarray | None = None

    # --- public -------------------------------------------------------------------------------

    def search(self, query: str | ParsedQuery, *, k: int = DEFAULT_K, category: str | None = None,
               restricted: bool | None = None, min_duration: float | None = None,
               max_duration: float | None = None, video_id: int | None = None,
               min_score: float | None = None, negatives: tuple[str, ...] = (),
               filters: Filters | None = None) -> SearchResponse:
        """Videos whose scenes match a text query (syntax: :mod:`search.query`), best first.

        Word clauses (``text:"SPF 30"``, ``said:...``, ``words:...``; :mod:`search.words`) are
        looked up in the full-text index and fused with the visual part (:mod:`search.fusion`).
        Filters come as keywords or as a :class:`~search.filters.Filters` (keywords given as
        well replace its fields).

        Raises:
            QueryError: malformed query or filter, bad ``k``/``min_score``, no encoder.
            NotFoundError: unknown category or video id.
            EncoderError: the text encoder failed.
        """
        chosen = _filters(filters, category=category, restricted=restricted, min_duration=min_duration,
                          max_duration=max_duration, video_id=video_id)
        if isinstance(query, str):
            visual, clauses = split_query(query)
            if clauses:
                return self._search_words(query, visual, clauses, k, chosen, negatives, min_score)
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        parsed = with_negatives(parsed, negatives) if negatives else parsed
        vectors = self.embed(parsed)
        judge = self._judge(vectors, min_score)
        label = query if isinstance(query, str) else str(parsed)
        return self._search_vector(vectors.query, judge, chosen, k, label, "text")

    def search_image(self, image: Any, *, k: int = DEFAULT_K, min_score: float | None = None,
                     filters: Filters | None = None, **fields: Any) -> SearchResponse:
        """Videos whose scenes look like ``image``: a file path, a PIL image or an RGB array.

        Filters as in :meth:`search` (``filters`` and/or its fields as keywords).

        Raises:
            QueryError: unreadable image (the message names the file), bad filter, no encoder.
            NotFoundError: unknown category or video id.
        """
        query = encode_image(self._encoder(), image)
        judge = self._judge(query, min_score)
        label = f"image {Path(image).name}" if isinstance(image, (str, Path)) else "the image"
        return self._search_vector(query, judge, _filters(filters, **fields), k, label, "image")

    def search_like(self, video_id: int, time: float, *, k: int = DEFAULT_K, min_score: float | None = None,
                    filters: Filters | None = None, **fields: Any) -> SearchResponse:
        """"More like this": scenes that look like the stored frame of ``video_id`` that stands
        for ``time`` (:func:`~search.scenes.standing_frame`: the one on screen then, in its shot).

        Raises:
            NotFoundError: unknown video id.
            QueryError: ``time`` outside the video, a video without frames, or a bad filter.
        """
        video = self.store.get_video(int(video_id))
        if not (math.isfinite(time) and 0 <= time <= video.duration + video.sample_every):
            raise QueryError(f"time {time:g} s is outside video {video.id} "
                             f"(0 to {video.duration:.3f} s)")
        _, times, vectors = self.store.frames(video.id)
        if not len(times):
            raise QueryError(f"video {video.id} has no indexed frames")
        query = np.asarray(vectors[standing_frame(times, self.store.boundaries(video.id), time)], dtype=np.float32)
        judge = self._judge(query, min_score)
        label = f"like {video.path.name}@{time:.3f}"  # the time asked for, not the stored frame's
        return self._search_vector(query, judge, _filters(filters, **fields), k, label, "like")

    def search_vector(self, vector: np.ndarray, label: str, *, k: int = DEFAULT_K, min_score: float | None = None,
                      filters: Filters | None = None, **fields: Any) -> SearchResponse:
        """Scenes near any query vector (a query refined by relevance feedback), judged like an
        image query. Raises QueryError (bad vector, ``k`` or filter), NotFoundError."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        if query.size != self.store.dim or not math.isfinite(norm) or norm == 0:
            raise QueryError(f"a query vector must have {self.store.dim} finite, not all zero, numbers")
        query = query / norm
        return self._search_vector(query, self._judge(query, min_score), _filters(filters, **fields), k, label, "image")

    def embed(self, query: ParsedQuery) -> QueryVectors:
        """The query's vectors (term embeddings come from the LRU cache when seen before).

        Raises: QueryError (no encoder, or negatives cancelling the query), EncoderError.
        """
        self._encoder()
        return embed_query(query, self.texts.encode_texts)

    # --- internals ----------------------------------------------------------------------------

    def _search_words(self, label: str, visual: str, clauses: tuple[WordClause, ...], k: int, chosen: Filters,
                      negatives: tuple[str, ...], min_score: float | None) -> SearchResponse:
        """A query with word clauses: each clause's hits and the visual part's scenes, fused (RRF)."""
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QueryError(f"k (the number of videos) must be between 1 and {MAX_K}, got {k!r}")
        videos = candidate_videos(self.store, self.taxonomy, chosen, self.durations)
        pictures, cutoff = [], None
        if visual:
            found = self.search(visual, k=max(k, WORD_VISUAL_K), filters=chosen, negatives=negatives,
                                min_score=min_score)
            pictures, cutoff = list(found.results), found.cutoff
        hits = {clause: [h for h in find_words(self.store, clause, videos.ids()) if videos.allows(h.video_id)]
                for clause in clauses}
        results = fuse(pictures, hits, self.store.get_video, self._label_spans, k)
        if not results:
            what = " nor ".join(f"{c.field} {c.phrase!r}" for c in clauses)
            return SearchResponse((), cutoff, f"no scene matches {label!r}: no video shows or says {what}"
                                  + (" in the filtered videos" if chosen.active else ""), label)
        return SearchResponse(tuple(results), cutoff, None, label, fused=True)

    def _label_spans(self, video_id: int) -> list[tuple[str, float, float]]:
        """(label, start, end) of every label present in the video (for a scene's labels)."""
        tree = label_tree(self.taxonomy.ids if self.taxonomy else ())
        present = video_coverage(self.store.segments(video_id, include_rejected=True), tree)
        return [(label, p.start, p.end) for label, pieces in present.items() for p in pieces]

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            raise QueryError("this search engine has no encoder, so it cannot embed queries")
        return self.encoder

    def _background_vectors(self) -> np.ndarray:
        if self._background is None:
            prompts = list(self.taxonomy.background if self.taxonomy else DEFAULT_BACKGROUND)
            self._background = l2_normalize(self.texts.encode_texts(prompts))
        return self._background

    def _judge(self, query: QueryVectors | np.ndarray, min_score: float | None) -> FrameJudge:
        """The cutoff for a text query (QueryVectors) or an image query (a vector)."""
        text = isinstance(query, QueryVectors)
        vector = query.query if text else query
        if min_score is not None:
            if not -1.0 <= min_score <= 1.0:
                raise QueryError(f"--min-score is a cosine similarity in [-1, 1], got {min_score:g}")
            negatives = query.negatives if text else np.zeros((0, len(vector)), np.float32)
            return absolute_judge(vector, negatives, float(min_score))
        sample = self.sample.vectors()
        if not text:
            return image_judge(vector, sample)
        threshold = self.taxonomy.threshold if self.taxonomy else DEFAULT_THRESHOLD
        return text_judge(query, self._background_vectors(), sample, threshold)

    def _search_vector(self, query: np.ndarray, judge: FrameJudge, filters: Filters, k: int,
             label: str, kind: str) -> SearchResponse:
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QueryError(f"k (the number of videos) must be between 1 and {MAX_K}, got {k!r}")
        videos = candidate_videos(self.store, self.taxonomy, filters, self.durations)
        include = videos.ids()
        total = self.store.video_count()
        if (include is not None and not include) or (videos.exclude and len(videos.exclude) >= total):
            return SearchResponse((), judge.cutoff, "no indexed video matches the filters", label)
        if self.store.vector_count() == 0:
            return SearchResponse((), judge.cutoff, "the index is empty; run `reelsearch index` first",
                                  label)
        fetch = min(max(OVERFETCH * k, MIN_FETCH), MAX_FETCH)
        if include is not None and len(include) <= POSTFILTER_SHARE * total:
            restrict = include  # few videos: search only their frames
        else:  # most videos pass: search everything, drop the others (cheaper than an id selector)
            restrict = None
            fetch = fetch if videos.everything else min(2 * fetch, MAX_FETCH)
        allowed = None if videos.everything else videos
        while True:
            scores, ids = self.store.search_vectors(query[None, :], fetch, video_ids=restrict)
            ranked = self._rank_videos(scores[0], ids[0], allowed)
            # long videos can fill the fetched frames: fetch more while matches may be cut off
            if len(ranked) >= k or fetch >= MAX_FETCH or ids[0, -1] < 0 or \
                    scores[0, -1] < judge.cutoff.least_score - APPROX_MARGIN:
                break
            fetch = min(4 * fetch, MAX_FETCH)
        results, best = self._rescore(ranked, judge, k)
        if not results:
            message = _no_match_message(label, best, judge, kind, filters.active)
            return SearchResponse((), judge.cutoff, message, label,
                                  best if math.isfinite(best) else None)
        return SearchResponse(tuple(results), judge.cutoff, None, label)

    def _rank_videos(self, scores: np.ndarray, ids: np.ndarray,
                     allowed: VideoSet | None) -> list[tuple[int, float]]:
        """(video id, best retrieved frame score) pairs, best first (only ``allowed`` videos)."""
        valid = ids >= 0
        videos = self.store.frame_videos(ids[valid])
        best: dict[int, float] = {}
        for video_id, score in zip(videos.tolist(), scores[valid].tolist()):
            if video_id < 0 or (allowed is not None and not allowed.allows(video_id)):
                continue
            if score > best.get(video_id, -math.inf):
                best[video_id] = score
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))

    def _rescore(self, ranked: list[tuple[int, float]], judge: FrameJudge,
                 k: int) -> tuple[list[VideoResult], float]:
        """Exact scenes of the best candidates (stopping rules in the module docstring).

        Returns the results (best first, at most ``k``) and the best cosine seen.
        """
        results: list[VideoResult] = []
        best_seen = ranked[0][1] if ranked else -math.inf
        least = judge.cutoff.least_score - APPROX_MARGIN
        limit = max(MIN_RESCORED, MAX_RESCORED_FACTOR * k)
        rescored = 0
        for video_id, retrieved in ranked[:limit]:
            if retrieved < least or (len(results) >= k and retrieved < results[k - 1].score):
                break
            result, top = self._video_result(video_id, judge)
            rescored += 1
            best_seen = max(best_seen, top)
            if result is not None:
                results.append(result)
                results.sort(key=lambda r: (-r.score, r.video.id))
        log.debug("re-scored %d of %d candidate videos, %d match", rescored, len(ranked), len(results))
        return results[:k], best_seen

    def _video_result(self, video_id: int, judge: FrameJudge) -> tuple[VideoResult | None, float]:
        """Judge every frame of one video; return its result (None: no hit) and its best score."""
        _, times, vectors = self.store.frames(video_id)
        if not len(times):
            return None, -math.inf
        scores, hits = judge.judge(vectors)
        if not hits.any():
            return None, float(scores.max())
        video = self.store.get_video(video_id)
        scenes = group_scenes(times, scores, hits, self.store.boundaries(video_id), video.duration,
                              every=video.sample_every, max_gap=GAP_SAMPLES * video.sample_every)
        spans = self._label_spans(video_id)
        scenes = [attach_labels(s, spans) for s in scenes]
        return VideoResult(video, video_score(scenes), tuple(scenes)), float(scores.max())


def single_threaded_blas() -> None:
    """Make numpy's BLAS run on one thread in this process (once, when an engine is built).

    A query's products are small (2048 x 512 for the cutoff, a video's frames for re-scoring):
    split over threads they only wait for cores, which on a busy machine made a search several
    times slower. Concurrent searches (the web server's threads) use the cores instead.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _filters(base: Filters | None, **fields: Any) -> Filters:
    """``base`` (or no filter) with the fields given (not None) replaced.

    Raises: QueryError for an unknown filter name or an invalid value.
    """
    unknown = set(fields) - set(Filters.__dataclass_fields__)
    if unknown:
        raise QueryError(f"unknown search filter(s): {', '.join(sorted(unknown))}")
    given = {key: value for key, value in fields.items() if value is not None}
    return dataclasses.replace(base or Filters(), **given)


#: What to try when a query of each kind (text, image file, stored frame) finds nothing.
_RETRY_HINTS = {"text": "try more concrete words", "image": "try a picture closer to what the archive shows",
                "like": "try a frame of another shot"}


def _no_match_message(label: str, best: float, judge: FrameJudge, kind: str, filtered: bool) -> str:
    """Why nothing came back and what to try for this kind of query (front ends add how to
    lower the cutoff); fewer filters are suggested only when some are set."""
    hint = _RETRY_HINTS[kind] + (" or fewer filters" if filtered else "")
    if not math.isfinite(best):
        return f"no scene matches {label!r}: no frame was close enough to look at; {hint}"
    return (f"no scene matches {label!r} well (best frame cosine {best:.3f}; a match needs "
            f"{judge.cutoff.describe()}); {hint}")
