"""The index as the web app sees it: one shared read-only store, taxonomy, encoder and engine.

The store is opened read-only once per process and shared by all request threads (the Store
is thread-safe: one lock guards its SQLite connection and FAISS index). At each request's
first use it is refreshed if its files changed (a cheap ``stat``), so a ``reelsearch index``
running in another process shows up without a restart, and readers never see a half-written
store (SQLite WAL snapshots; the FAISS file is replaced atomically).

Curator writes use a short-lived writable store (:func:`writable_store`, which loads no
vectors); SQLite's WAL lets them run beside the reader and an indexer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

from flask import Flask, current_app, g

from indexer.errors import ReelsearchError, StoreError

from .uploads import UploadDecoder

log = logging.getLogger(__name__)

EXTENSION = "reelsearch"
CACHE_ENTRIES = 64
_WATCHED = ("catalog.sqlite3", "catalog.sqlite3-wal", "vectors.faiss")


def _change_token(data_dir: Path) -> tuple:
    """(mtime_ns, size) of the store's files: changes whenever a writer commits."""
    token = []
    for name in _WATCHED:
        try:
            st = (data_dir / name).stat()
            token.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            token.append(None)
    return tuple(token)


class Archive:
    """Process-wide access to one data dir: store reader, taxonomy, encoder, search engine."""

    def __init__(self, data_dir: Path, *, taxonomy_path: Path | None = None,
                 encoder: Any = None, image_searches: int = 2, show_full_paths: bool = False,
                 shards: int = 0, shard_index: str = "flat", ray_address: str = "local") -> None:
        self.data_dir = Path(data_dir)
        self.shards, self.shard_index, self.ray_address = shards, shard_index, ray_address
        self._sharded: Any = None
        self.show_full_paths = show_full_paths
        self.uploads = UploadDecoder(image_searches)  # decodes query images, a few at a time
        self.taxonomy_path = Path(taxonomy_path) if taxonomy_path else None
        self._encoder_choice = encoder
        self.lock = threading.RLock()
        self._store: Any = None
        self._token: tuple | None = None
        self._taxonomy: Any = None
        self._encoder: Any = None
        self._engine: Any = None
        self._cache: OrderedDict[str, tuple[tuple, Any]] = OrderedDict()

    # -- store -------------------------------------------------------------------------
    def reader(self) -> Any:
        """The shared read-only Store, opened on first use and refreshed if its files changed.

        Raises StoreError if there is no index in the data dir yet (or it cannot be read).
        """
        from indexer.store import Store

        with self.lock:
            if not (self.data_dir / Store.CATALOG).exists():
                raise StoreError(f"no index in {self.data_dir} yet: run `reelsearch index PATH` first")
            token = _change_token(self.data_dir)
            if self._store is None:
                self._store = Store.open(self.data_dir, readonly=True)
                self._engine = None
                log.info("opened the index in %s (read-only)", self.data_dir)
            elif token != self._token:
                self._store.refresh()
                log.debug("index in %s changed: refreshed", self.data_dir)
            self._token = token
            return self._store

    def cached(self, key: str, compute: Any) -> Any:
        """A value derived from the store, recomputed only when the store's files change
        (least recently used values beyond :data:`CACHE_ENTRIES` are dropped)."""
        token = _change_token(self.data_dir)
        with self.lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == token:
                self._cache.move_to_end(key)
                return hit[1]
        value = compute()
        with self.lock:
            self._cache[key] = (token, value)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    def video_root(self) -> Path | None:
        """The folder that holds every indexed video (cached until the store changes)."""
        return self.cached("video_root", lambda: common_folder(self.reader().video_path_bounds()))

    def shown_path(self, path: Path, root: Path | None) -> str:
        """How a video's path is shown: relative to ``root``, the folder that holds every indexed
        video (:meth:`video_root`, looked up by the caller once per request), or the absolute
        path with ``show_full_paths``, so the server's layout stays private."""
        if self.show_full_paths:
            return str(path)
        try:
            return Path(path).relative_to(root).as_posix() if root else Path(path).name
        except ValueError:  # a video indexed since the root was computed
            return Path(path).name

    def close(self) -> None:
        """Close the reader (tests, shutdown)."""
        with self.lock:
            if self._store is not None:
                self._store.close()
            self._store = self._engine = None
        self.uploads.close()

    # -- taxonomy, encoder, engine --------------------------------------------------------
    @property
    def taxonomy(self) -> Any:
        """The category taxonomy (the file is read once) with the categories curators created in
        the store. Raises TaxonomyError if the file is malformed."""
        if self._taxonomy is None:
            from indexer.labels.taxonomy import load_taxonomy

            self._taxonomy = load_taxonomy(self.taxonomy_path)
        from indexer.store import Store

        if not (self.data_dir / Store.CATALOG).exists():
            return self._taxonomy
        from indexer.pipeline.labelling import with_user_categories

        return self.cached("taxonomy", lambda: with_user_categories(self._taxonomy, self.reader()))

    def encoder(self) -> Any:
        """The configured encoder, else the one the store was built with (loaded once).

        Raises EncoderError if it cannot be loaded, StoreError if the store records none.
        """
        if self._encoder is None:
            from indexer.models.loading import store_encoder

            self._encoder = store_encoder(self.reader(), self._encoder_choice, bind=False)
        return self._encoder

    def warm(self) -> None:
        """Load the text side of the encoder now (``serve`` calls it in a thread at start), so the
        first query, or a CLI command asking this server, does not wait for it. Failures are logged."""
        try:
            self.encoder().encode_texts(list(self.taxonomy.background[:1]) or ["a photo"])
        except ReelsearchError as exc:  # e.g. nothing indexed yet: requests say so themselves
            log.info("encoder of %s not loaded ahead of requests: %s", self.data_dir, exc)
        except Exception:  # noqa: BLE001 (the request that needs the encoder reports the error)
            log.warning("could not load the encoder of %s ahead of requests", self.data_dir, exc_info=True)

    def engine(self) -> Any:
        """The search engine over the shared reader (built once per opened store)."""
        store = self.reader()
        with self.lock:
            taxonomy = self.taxonomy
            if self._engine is None or self._engine.taxonomy is not taxonomy:  # a user category was added
                from search.engine import SearchEngine

                self._engine = SearchEngine(self._searched(store), store.cached_texts(self.encoder()), taxonomy)
            return self._engine

    def _searched(self, store: Any) -> Any:
        """The store the engine searches: itself, or (``SHARDS`` > 0) the store with its vectors
        split by video over that many Ray actors, loaded once and kept in step with the catalog
        before each search (videos indexed or deleted since the server started included)."""
        if not self.shards:
            return store
        if self._sharded is None or self._sharded._store is not store:
            from indexer.pipeline.cluster import connect
            from indexer.store.shards import ShardedStore, ShardedVectors

            ray = connect(self.ray_address)
            self._sharded = ShardedStore(store, ShardedVectors(ray, store, self.shards, self.shard_index))
            log.info("searching %d vector shards (%s)", self.shards, self.shard_index)
        return self._sharded


def common_folder(paths: Iterator[Path] | list[Path]) -> Path | None:
    """The deepest folder containing all ``paths`` (None for none)."""
    parents = [str(Path(p).parent) for p in paths]
    return Path(os.path.commonpath(parents)) if parents else None


def shown_path(path: Path) -> str:
    """:meth:`Archive.shown_path` of the current app; the video root is looked up once per
    request (a page of 50 rows checks the store's files once, not 50 times)."""
    current = archive()
    if "reelsearch_root" not in g and not current.show_full_paths:
        g.reelsearch_root = current.video_root()
    return current.shown_path(path, g.get("reelsearch_root"))


def archive() -> Archive:
    """The current app's Archive."""
    return current_app.extensions[EXTENSION]


def store() -> Any:
    """The shared read-only store, refreshed at most once per request."""
    if "reelsearch_store" not in g:
        g.reelsearch_store = archive().reader()
    return g.reelsearch_store


@contextlib.contextmanager
def writable_store() -> Iterator[Any]:
    """A short-lived writable Store for curator changes (touches only the catalog, so no
    vectors are loaded). Raises StoreError if the catalog cannot be opened for writing."""
    from indexer.store import Store

    with Store.open(archive().data_dir) as writer:
        yield writer


def init_archive(app: Flask) -> None:
    """Attach an Archive for ``app.config['DATA_DIR']`` to ``app``."""
    app.extensions[EXTENSION] = Archive(app.config["DATA_DIR"], taxonomy_path=app.config.get("TAXONOMY"),
                                        encoder=app.config.get("ENCODER"),
                                        image_searches=int(app.config["IMAGE_SEARCHES"]),
                                        show_full_paths=bool(app.config["SHOW_FULL_PATHS"]),
                                        shards=int(app.config["SHARDS"]), shard_index=str(app.config["SHARD_INDEX"]),
                                        ray_address=str(app.config["RAY_ADDRESS"]))
