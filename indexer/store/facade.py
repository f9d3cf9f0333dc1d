"""The store: SQLite catalog (source of truth, embeddings included) + FAISS index of frame
vectors whose ids are frame row ids.

Layout of a data dir: ``catalog.sqlite3`` (+ WAL files), ``vectors.faiss``, ``writer.lock``,
``thumbs/``.

Crash safety: every change is one SQLite transaction; the FAISS file is rewritten atomically
(:meth:`VectorIndex.save`) every ``flush_every_videos`` videos / ``flush_every_seconds`` and
at :meth:`Store.close`. Whatever moment a writer dies at, the file is a whole index of some
earlier state; opening the store reconciles it with the catalog (missing vectors read back
from their BLOBs, vectors of deleted rows dropped), so every frame row has its vector and
vice versa.

Writers and readers: one process at a time writes frames (``writer.lock``, taken at the
first write and held until close). Any number of readers — ``Store.open(readonly=True)``,
which never writes, or writable stores that only curate — follow it with :meth:`refresh`:
it reloads the FAISS file when it was replaced and adds/removes the vectors of rows
committed since, all against one WAL snapshot, so a reader never sees half a video.

Threads: one SQLite connection and one lock (:attr:`Catalog.lock`) guard the catalog and
the FAISS index; every public method holds it, so one Store may serve a threaded WSGI server.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Self

import numpy as np

from indexer.store import queries as q
from indexer.store import segment_queries as qs
from indexer.store import words as qw
from indexer.store.catalog import Catalog, NewVideo, SegmentRecord, VideoRecord
from indexer.store.segment_queries import LabelStat
from indexer.errors import EncoderMismatchError, StoreError
from indexer.store.reads import CatalogReads
from indexer.store.sync import CatalogFrames, VectorFile
from indexer.store.teaching import Teaching
from indexer.store.text_vectors import CachedTextEncoder, TextVectors
from indexer.store.thumbnails import cached_poster_time, cached_thumbnail, remove_thumbnails, save_thumbnails
from indexer.types import Segment, ShotCut, SpeechSegment, TextSpan, Transition
from indexer.store.frame_ids import VideoRanges
from indexer.store.vectors import IVF_THRESHOLD, VectorIndex
from indexer.store.ivf import build_ivf, exact_topk, ivf_nlist

log = logging.getLogger(__name__)

EXACT_SUBSET_LIMIT = 20_000  # restricted IVF searches over fewer frames are done exactly
WRITER_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class IndexInfo:
    """The vector index as it is now (``recall_at_10`` set when ``optimize`` just built it)."""

    kind: str  # "flat" or "ivf"
    vectors: int
    nlist: int | None
    nprobe: int | None
    recall_at_10: float | None = None


__all__ = ["IndexInfo", "LabelStat", "NewVideo", "SegmentRecord", "Store", "VideoRecord"]


class Store(CatalogReads):
    """Facade over the catalog and the vector index; see the module docstring."""

    CATALOG, VECTORS, LOCK, THUMBS = "catalog.sqlite3", "vectors.faiss", "writer.lock", "thumbs"

    def __init__(self, data_dir: Path, catalog: Catalog, *, flush_every_videos: int = 50,
                 flush_every_seconds: float = 60.0) -> None:
        self.data_dir = data_dir
        self.catalog = catalog  # for indexer modules with their own queries (curation)
        self._lock = catalog.lock
        self._vectors = VectorFile(data_dir / self.VECTORS, data_dir / self.LOCK, catalog)
        self._flush_every = (flush_every_videos, flush_every_seconds)
        self._ranges = VideoRanges()  # frame id -> video id
        self.text_vectors = TextVectors(catalog)  # cached prompt and query embeddings
        self.teaching = Teaching(catalog)  # reviewed marks, learned models, user categories
        self._closed = False

    @classmethod
    def open(cls, data_dir: Path, *, readonly: bool = False, create: bool = True,
             flush_every_videos: int = 50, flush_every_seconds: float = 60.0) -> Store:
        """Open (writable: create and migrate) the store in ``data_dir``.

        ``create=False`` opens an existing store only (what read commands do, so a command
        run from the wrong folder never leaves an empty store behind).

        The vector index is loaded and reconciled with the catalog on first use (a search,
        a write, :meth:`vector_count`, :meth:`refresh`), so short-lived stores that only
        touch the catalog (curation) stay cheap.

        Raises:
            StoreError: no store there (read-only or ``create=False``; the message names
                ``data_dir``), unreadable catalog, schema newer than this code ("upgrade
                reelsearch") or older and read-only.
        """
        data_dir = Path(data_dir)
        if readonly or not create:
            cls.require(data_dir)
        if not readonly:
            (data_dir / cls.THUMBS).mkdir(parents=True, exist_ok=True)
        return cls(data_dir, Catalog.open(data_dir / cls.CATALOG, readonly=readonly),
                   flush_every_videos=flush_every_videos, flush_every_seconds=flush_every_seconds)

    @classmethod
    def exists(cls, data_dir: Path) -> bool:
        """True when ``data_dir`` holds a store (nothing is opened or created)."""
        return (Path(data_dir) / cls.CATALOG).is_file()

    @classmethod
    def require(cls, data_dir: Path) -> None:
        """Check that ``data_dir`` holds a store, without opening or creating anything.

        Raises:
            StoreError: no store there; the message names ``data_dir`` and how to make one.
        """
        if not cls.exists(data_dir):
            raise StoreError(f"no index in {data_dir}: run `reelsearch index PATH` first, or point "
                             "--data-dir (REELSEARCH_DATA_DIR) at an existing index")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def readonly(self) -> bool:
        return self.catalog.readonly

    @property
    def thumbs_dir(self) -> Path:
        """Where thumbnails are cached (created by writable opens)."""
        return self.data_dir / self.THUMBS

    # --- encoder --------------------------------------------------------------------------

    def cached_texts(self, encoder: Any, kind: str = "query") -> CachedTextEncoder:
        """``encoder`` behind this store's text vector cache (``kind``: prompt or query)."""
        return CachedTextEncoder(self.text_vectors, encoder, kind)

    def bind_encoder(self, name: str, dim: int, spec: dict) -> None:
        """Record the encoder of this store, or check it is the one recorded.

        A record of the same encoder gains keys it lacks (a newer reelsearch records more, e.g.
        the text tower), keeping its own values.

        Raises:
            EncoderMismatchError: the store holds vectors of another encoder or dimension.
            StoreError: a read-only store without an encoder (nothing indexed yet).
        """
        with self._lock:
            with self.catalog.read() as conn:
                stored = q.get_meta(conn, "encoder_name"), q.get_meta(conn, "encoder_dim")
            if stored[0] is not None:
                if stored[0] != name or int(stored[1]) != int(dim):
                    raise EncoderMismatchError(
                        f"this index in {self.data_dir} was built with encoder {stored[0]} (dim {stored[1]}), "
                        f"not {name} (dim {int(dim)}): vectors of two encoders never mix; drop the encoder "
                        "options to use the index's own, or use another --data-dir")
                self._complete_spec(spec)
                return
            if self.readonly:
                self.recorded_encoder()  # raises: nothing is indexed yet
            with self.catalog.write() as conn:
                q.set_meta(conn, "encoder_name", name)
                q.set_meta(conn, "encoder_dim", str(int(dim)))
                q.set_meta(conn, "encoder_spec", json.dumps(spec, sort_keys=True))

    def recorded_encoder(self) -> dict:
        """The encoder spec indexing recorded (:meth:`bind_encoder`).

        Raises:
            StoreError: nothing is indexed yet (the message names the data dir).
        """
        spec = self.encoder_spec()
        if spec is None:
            raise StoreError(f"nothing is indexed in {self.data_dir} yet; run `reelsearch index PATH` first")
        return spec

    def _complete_spec(self, spec: dict) -> None:
        recorded = self.encoder_spec() or {}
        if self.readonly or not set(spec) - set(recorded):
            return
        with self.catalog.write() as conn:
            q.set_meta(conn, "encoder_spec", json.dumps({**spec, **recorded}, sort_keys=True))

    # --- writes ---------------------------------------------------------------------------

    def write_video(self, info: NewVideo, times: np.ndarray, pts: np.ndarray, vectors: np.ndarray,
                    cuts: Sequence[ShotCut], segments: Sequence[Segment], *,
                    transitions: Sequence[Transition] = (), thumbnails: Sequence[bytes] = (),
                    thumb_width: int = 0, text: Sequence[TextSpan] = (),
                    speech: Sequence[SpeechSegment] = ()) -> int:
        """Store a video, its frames with embeddings, cuts, transitions and automatic segments;
        return its id.

        One transaction. A video already stored under the same path keeps its id and its
        curator segments; its frames, cuts and automatic segments are replaced. New automatic
        segments overlapping a curator segment (active or rejected) of the same label are not
        stored. The vectors are then added to the FAISS index (saved every few videos).
        ``thumbnails`` (JPEGs of the frames at ``times``, ``thumb_width`` wide) are written to
        the thumbnail folder of this version; an older version's thumbnails are removed.
        ``text`` (on-screen text spans) and ``speech`` (speech segments) replace the video's words.

        Raises:
            ValueError: arrays of different lengths, wrong vector dim, non-finite values, or a
                segment whose source is not "auto".
            StoreError: read-only, no encoder bound, or another process is writing.
        """
        times, pts, vectors = q.check_frames(times, pts, vectors, self.dim)
        if any(s.source != "auto" for s in segments):
            raise ValueError("write_video stores automatic segments only (source='auto')")
        with self._lock:
            index = self._vectors.become_writer(WRITER_WAIT_SECONDS)
            older = self.video_by_path(info.path)
            with self.catalog.write() as conn:
                video_id, old_ids = q.upsert_video(conn, info, time.time())
                ids = q.insert_frames(conn, video_id, times, pts, vectors)
                q.insert_cuts(conn, video_id, cuts)
                q.insert_transitions(conn, video_id, transitions)
                kept = qs.insert_auto_segments(conn, video_id, segments, time.time())
                qw.insert_words(conn, video_id, text, speech, info.info.duration)
                generation = q.bump_generation(conn)
            self._apply(index, generation, old_ids, ids, vectors)
            self._vectors.flush(every_videos=self._flush_every[0],
                                every_seconds=self._flush_every[1])
        if older is not None and older.content_hash != info.content_hash:
            remove_thumbnails(self.thumbs_dir, older.id, older.content_hash)
        if thumbnails:
            save_thumbnails(self.thumbs_dir, video_id, info.content_hash, times.tolist(), thumbnails, thumb_width)
        log.debug("stored %s as video %d: %d frames, %d/%d segments", info.path, video_id,
                  len(ids), kept, len(segments))
        return video_id

    def _apply(self, index: VectorIndex, generation: int, removed: np.ndarray,
               added: np.ndarray, vectors: np.ndarray | None) -> None:
        """Mirror a committed change in the index (on failure the next sync repairs it)."""
        try:
            index.remove(removed)
            if vectors is not None:
                index.add(added, vectors)
        except Exception:
            self._vectors.invalidate()
            self._vectors.sync()
            log.exception("vector index update failed; reconciled with the catalog")
        self._vectors.changed(generation)

    def delete_video(self, video_id: int) -> None:
        """Forget a video with its frames, vectors, cuts, segments (curator ones too) and thumbnails.

        Raises: NotFoundError (no such video), StoreError (read-only, another writer).
        """
        with self._lock:
            video = self.get_video(video_id)
            index = self._vectors.become_writer(WRITER_WAIT_SECONDS)
            with self.catalog.write() as conn:
                removed = q.delete_video(conn, video_id)
                generation = q.bump_generation(conn)
            self._apply(index, generation, removed, removed[:0], None)
        remove_thumbnails(self.thumbs_dir, video.id, video.content_hash)

    def thumbnail(self, video: VideoRecord, seconds: float, width: int, make: Callable[[], bytes]) -> Path:
        """The JPEG file of ``video``'s frame at ``seconds`` (to the ms), written from ``make()`` if missing.

        Raises whatever ``make`` raises, OSError if the file cannot be written.
        """
        return cached_thumbnail(self.thumbs_dir, video.id, video.content_hash, int(round(seconds * 1000)),
                                width, make)

    def poster_time(self, video: VideoRecord, choose: Callable[[], float]) -> float:
        """``video``'s poster frame time, chosen once by ``choose()`` and kept with its thumbnails."""
        return cached_poster_time(self.thumbs_dir, video.id, video.content_hash, choose)

    def rename_video(self, video_id: int, new_path: Path, mtime: float) -> None:
        """Point a stored video at its new path (a rename is not a re-encode).

        Raises: NotFoundError, StoreError (read-only, or the new path is another video's).
        """
        with self.catalog.write() as conn:
            q.rename_video(conn, video_id, str(new_path), mtime)

    def flush(self) -> None:
        """Save the FAISS index atomically if this store wrote vectors since the last save.

        Raises: StoreError if writing the file fails.
        """
        with self._lock:
            self._vectors.flush()

    def optimize(self, *, force: bool = False) -> IndexInfo:
        """Build the IVF-SQ8 index when the flat one passed IVF_THRESHOLD vectors, or rebuild
        an IVF one that has grown ~4x since it was trained (its nlist is half what the size
        asks for); otherwise do nothing, so it is cheap to call after every indexing run.
        ``force``: build it anyway (if there is any vector). Saves the file. FAISS ids stay
        frame row ids. An IVF index is kept if the store later shrinks. A store with no encoder
        bound yet (e.g. only curator accounts) has nothing to optimize.

        Raises: StoreError (read-only, another writer, write failure).
        """
        with self._lock:
            if self._vectors.ensure() is None:  # no encoder bound yet: no vector to index
                return self.index_info()
            index = self._vectors.become_writer(WRITER_WAIT_SECONDS)
            n = len(index)
            grown = index.kind == "ivf" and ivf_nlist(n) >= 2 * index.nlist
            if n == 0 or not (force or grown or (index.kind == "flat" and n >= IVF_THRESHOLD)):
                return self.index_info()
            with self.catalog.read() as conn:
                base, report = build_ivf(CatalogFrames(conn, index.dim), index.dim)
            index.replace_base(base)
            self._vectors.save()
            return IndexInfo("ivf", len(index), report.nlist, report.nprobe, report.recall_at_10)

    # --- vector search --------------------------------------------------------------------

    def vector_count(self) -> int:
        """Number of vectors in the index (= stored frames once reconciled)."""
        with self._lock:
            index = self._vectors.ensure()
            return 0 if index is None else len(index)

    def vector_ids(self) -> np.ndarray:
        """Sorted frame ids of every vector in the index (for checks and tests)."""
        with self._lock:
            index = self._vectors.ensure()
            return np.empty(0, np.int64) if index is None else index.ids()

    def search_vectors(self, queries: np.ndarray, k: int, *,
                       video_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nearest frames by inner product: (scores (q, k) float32, frame ids (q, k) int64);
        missing results have id -1 and score -inf.

        ``video_ids`` restricts the search to those videos' frames (their id ranges): exactly
        from the stored embeddings when they are at most EXACT_SUBSET_LIMIT frames, else
        through the index with an IDSelectorBatch (IVF probes more lists then).

        Raises: ValueError (queries not (q, dim), k < 1).
        """
        queries = np.asarray(queries, dtype=np.float32)
        queries = queries.reshape(1, -1) if queries.ndim == 1 else queries
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        with self._lock:
            index = self._vectors.ensure()
            empty = (np.full((len(queries), k), -np.inf, np.float32),
                     np.full((len(queries), k), -1, np.int64))
            if index is None:
                return empty
            if queries.ndim != 2 or queries.shape[1] != index.dim:
                raise ValueError(f"queries must have shape (q, {index.dim}), got {queries.shape}")
            if video_ids is None:
                return index.search(queries, k)
            with self.catalog.read() as conn:
                ranges = q.frame_ranges(conn, list(video_ids))
                if not ranges[:, 1].sum():
                    return empty
                if ranges[:, 1].sum() > EXACT_SUBSET_LIMIT or index.kind == "flat":
                    return index.search(queries, k, subset=q.ids_of_ranges(ranges))
                batches = list(q.range_vectors(conn, ranges, index.dim))
            return exact_topk(queries, k, batches)

    def frame_videos(self, frame_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The video id of each frame id (-1 for ids that are not stored), from the videos'
        frame-id ranges (cached per catalog generation)."""
        with self.catalog.read() as conn:
            return self._ranges.videos_of(conn, np.asarray(frame_ids, dtype=np.int64))

    def sample_vectors(self, size: int) -> np.ndarray:
        """A uniform sample of up to ``size`` stored frame embeddings: the frames with the
        smallest sample keys (:mod:`indexer.store.summaries`), read through an index."""
        with self.catalog.read() as conn:
            dim = q.get_meta(conn, "encoder_dim")
            return q.sample_vectors(conn, size, int(dim)) if dim else np.zeros((0, 0), np.float32)

    def index_info(self) -> IndexInfo:
        """Kind and size of the vector index now."""
        with self._lock:
            index = self._vectors.ensure()
            if index is None:
                return IndexInfo("flat", 0, None, None)
            return IndexInfo(index.kind, len(index), index.nlist, index.nprobe)

    def refresh(self) -> bool:
        """Pick up what a writer committed since (replaced FAISS file, new/removed frames,
        a first encoder). Cheap when nothing changed. Returns whether anything changed."""
        with self._lock:
            if self._vectors.index is None:
                return self._vectors.ensure() is not None
            return self._vectors.sync()

    def close(self) -> None:
        """Flush (a writable store also saves repairs made by reconciling, if no other process
        is writing), release the writer lock and close the catalog (idempotent).

        Raises: StoreError if the final flush fails (the lock is released anyway).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._vectors.close()
            finally:
                self.catalog.close()

