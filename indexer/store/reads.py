"""The read side of :class:`indexer.store.Store` that needs only the catalog: the recorded
encoder, videos, frames, cuts, segments, label statistics. Every method is one snapshot of the catalog and holds the
store's lock, so it is safe from several threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from indexer.store import queries as q
from indexer.store import segment_queries as qs
from indexer.store import words as qw
from indexer.store.catalog import Catalog, SegmentRecord, VideoRecord
from indexer.store import summaries
from indexer.store.segment_queries import LabelStat
from indexer.store.summaries import LabelTotal
from indexer.types import ShotCut, Transition


class CatalogReads:
    """Catalog queries of a store (base class of :class:`~indexer.store.Store`)."""

    catalog: Catalog

    def encoder_spec(self) -> dict | None:
        """The spec recorded by :meth:`bind_encoder` (to load the same encoder), or None."""
        with self.catalog.read() as conn:
            spec = q.get_meta(conn, "encoder_spec")
        return None if spec is None else json.loads(spec)

    @property
    def dim(self) -> int | None:
        """Embedding dimension of the bound encoder (None before the first bind)."""
        with self.catalog.read() as conn:
            dim = q.get_meta(conn, "encoder_dim")
        return None if dim is None else int(dim)

    def video_by_path(self, path: Path) -> VideoRecord | None:
        """The video stored under exactly this path, or None."""
        with self.catalog.read() as conn:
            return q.video_by_path(conn, str(path))

    def videos_by_hash(self, content_hash: str) -> list[VideoRecord]:
        """Every stored video with this content hash (renamed or duplicated files)."""
        with self.catalog.read() as conn:
            return q.videos_by_hash(conn, content_hash)

    def get_video(self, video_id: int) -> VideoRecord:
        """Raises: NotFoundError if there is no such video."""
        with self.catalog.read() as conn:
            return q.get_video(conn, video_id)

    def list_videos(self, *, ids: Iterable[int] | None = None, min_duration: float | None = None,
                    max_duration: float | None = None) -> list[VideoRecord]:
        """Stored videos ordered by path, optionally only the given ids / a duration range."""
        with self.catalog.read() as conn:
            return q.list_videos(conn, ids=None if ids is None else list(ids),
                                 min_duration=min_duration, max_duration=max_duration)

    def video_count(self) -> int:
        """Number of stored videos (a maintained counter)."""
        with self.catalog.read() as conn:
            return summaries.counters(conn).get("videos", 0)

    def video_path_bounds(self) -> list[Path]:
        """The first and last stored video path in sorted order ([] when there is none): every
        path lies between them, so they share every folder that all paths share (two index
        lookups, whatever the number of videos)."""
        with self.catalog.read() as conn:
            return q.path_bounds(conn)

    def overview(self) -> tuple[int, float]:
        """(number of videos, their total duration in seconds), from maintained counters."""
        with self.catalog.read() as conn:
            tally = summaries.counters(conn)
        return tally.get("videos", 0), tally.get("duration_us", 0) / summaries.MICROS

    def video_page(self, *, text: str = "", sort: str = "name", descending: bool = False,
                   offset: int = 0, limit: int = 50) -> tuple[list[VideoRecord], int]:
        """One page of the videos whose file name contains ``text`` (case-insensitive), sorted
        by "name", "duration" or "date" (indexed): (records, how many match).

        Raises: ValueError for an unknown sort key or a negative offset/limit.
        """
        with self.catalog.read() as conn:
            return q.video_page(conn, text=text, sort=sort, descending=descending, offset=offset, limit=limit)

    def label_totals(self) -> dict[str, LabelTotal]:
        """label -> LabelTotal (videos, screen time, videos with the label itself) for every
        label present and every ancestor of one (``places`` for ``places/port``); maintained."""
        with self.catalog.read() as conn:
            return summaries.label_totals(conn)

    def videos_showing(self, labels: Sequence[str]) -> set[int]:
        """Ids of the videos where any of ``labels`` is present (maintained coverage)."""
        with self.catalog.read() as conn:
            return summaries.videos_showing(conn, labels)

    def labels_union(self, labels: Sequence[str]) -> tuple[int, float]:
        """(videos showing any of ``labels`` or a descendant, the screen time of their union
        in seconds, overlaps counted once); reads only those videos' segments."""
        with self.catalog.read() as conn:
            return summaries.labels_union(conn, labels)

    def video_label_seconds(self, video_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        """video id -> label -> screen time (seconds) of every label present in each video,
        ancestors included (maintained coverage; no segments are read)."""
        with self.catalog.read() as conn:
            return summaries.video_label_seconds(conn, video_ids)

    def label_video_page(self, label: str, *, offset: int = 0,
                         limit: int = 50) -> tuple[list[tuple[VideoRecord, float]], int]:
        """One page of the videos showing ``label`` or a descendant, most screen time first:
        ([(video, screen time in seconds)], how many videos show it)."""
        with self.catalog.read() as conn:
            page, total = summaries.label_video_page(conn, label, offset, limit)
            videos = {v.id: v for v in q.list_videos(conn, ids=[vid for vid, _ in page])}
        return [(videos[vid], seconds) for vid, seconds in page], total

    def frames(self, video_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frame ids int64, times float64, vectors (n, dim) float32) in time order, from the
        catalog (exact float32 embeddings).

        Raises: NotFoundError if there is no such video.
        """
        with self.catalog.read() as conn:
            return q.frames(conn, video_id)

    def frame_times(self, video_id: int) -> list[float]:
        """Times of the video's stored frames in order, without reading their embeddings."""
        with self.catalog.read() as conn:
            return q.frame_times(conn, video_id)

    def cuts(self, video_id: int) -> list[float]:
        """Times (seconds) of the video's detected shot cuts, ascending ([] if unknown id)."""
        with self.catalog.read() as conn:
            return q.cuts(conn, video_id)

    def shot_cuts(self, video_id: int) -> list[ShotCut]:
        """The video's cuts with their score and margin over the threshold, by time."""
        with self.catalog.read() as conn:
            return q.shot_cuts(conn, video_id)

    def transitions(self, video_id: int) -> list[Transition]:
        """The video's gradual transitions (fades, dissolves), by start ([] if unknown id)."""
        with self.catalog.read() as conn:
            return q.transitions(conn, video_id)

    def boundaries(self, video_id: int) -> list[tuple[float, float]]:
        """Every shot boundary as (first, last) time: a cut is (t, t), a transition its first
        and last frame; sorted. What segments, scenes, thumbnails and the timeline snap to."""
        with self.catalog.read() as conn:
            cuts = [(t, t) for t in q.cuts(conn, video_id)]
            return sorted(cuts + [(t.start, t.end) for t in q.transitions(conn, video_id)])

    def segments(self, video_id: int, *, include_rejected: bool = False) -> list[SegmentRecord]:
        """The video's segments by start time: active ones, plus rejected ones if asked."""
        with self.catalog.read() as conn:
            return qs.segments(conn, video_id, include_rejected=include_rejected)

    def words(self, video_id: int, kind: str | None = None) -> list[qw.WordRow]:
        """The video's on-screen text (``kind="text"``) and/or speech (``"said"``) rows by start time."""
        with self.catalog.read() as conn:
            return qw.video_words(conn, video_id, kind)

    def search_words(self, phrase: str, kind: str | None = None, *, video_ids: Iterable[int] | None = None,
                     limit: int = 2000) -> list[qw.WordMatch]:
        """Word rows containing ``phrase`` (its tokens in order, case and accents ignored), best first."""
        with self.catalog.read() as conn:
            return qw.search_words(conn, phrase, kind, video_ids, limit)

    def get_segment(self, segment_id: int) -> SegmentRecord:
        """Raises: NotFoundError if there is no such segment."""
        with self.catalog.read() as conn:
            return qs.get_segment(conn, segment_id)

    def frame_locations(self, frame_ids: Sequence[int]) -> dict[int, tuple[int, float]]:
        """frame id -> (video id, time). Ids that are not stored (-1, or deleted since a
        search) are left out."""
        with self.catalog.read() as conn:
            return q.frame_locations(conn, frame_ids)

    def label_stats(self) -> dict[str, LabelStat]:
        """label -> LabelStat(videos, total active duration) over active segments."""
        with self.catalog.read() as conn:
            return qs.label_stats(conn)

    def videos_with_labels(self, labels: Sequence[str] | None, *, include_rejected: bool = False,
                           video_ids: Sequence[int] | None = None) -> dict[int, list[SegmentRecord]]:
        """video id -> its active (and, if asked, rejected) segments whose label is one of
        ``labels`` (None: every segment); only of ``video_ids`` if given."""
        with self.catalog.read() as conn:
            return qs.videos_with_labels(conn, labels, include_rejected=include_rejected, video_ids=video_ids)
