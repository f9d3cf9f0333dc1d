"""Indexing on a Ray cluster: analysis on a pool of worker actors, commits by this process alone.

The driver (this process) discovers the files, orders them by size, decides per file what is
needed (:func:`~indexer.pipeline.orchestrate.triage`: unchanged files are skipped and renames
followed before anything is shipped) and sends each remaining path to an
:class:`AnalysisWorker` actor. Each actor loads the encoder once, runs the pure
:class:`~indexer.pipeline.analysis.Analyser` on the path (read from storage every worker sees
at the same path) and returns the picklable :class:`Analysis`; the driver commits it, one video
per transaction, exactly as single-process indexing does. At most ``per_worker`` files per
actor are in flight, so the driver's memory stays flat however long the list. An actor killed
mid-file is restarted by Ray and the file retried; a driver killed mid-run leaves every
committed video whole, and a re-run skips them.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import ClusterError, MediaError
from indexer.labels.classify import LabelModel
from indexer.media.discover import discover
from indexer.models.encoder import Encoder
from indexer.models.loading import encoder_spec, load_from_spec
from indexer.pipeline.analysis import Analyser, Analysis, IndexOptions
from indexer.pipeline.extractors import register, registered
from indexer.pipeline.orchestrate import FileResult, Work, committed, triage
from indexer.store import Store

log = logging.getLogger(__name__)

SHARED_STORAGE = ("with --ray every worker reads the files itself: put them on storage every node "
                  "mounts at the same path")


@dataclass(frozen=True)
class Answer:
    """A worker's reply for one file: the analysis, or why there is none."""

    worker: str
    analysis: Analysis | None
    reason: str
    seconds: float


@dataclass
class WorkerStats:
    """What one worker did: files analysed, video-seconds, seconds spent analysing."""

    worker: str
    files: int = 0
    video_seconds: float = 0.0
    busy_seconds: float = 0.0

    @property
    def speed(self) -> float:
        """Video-seconds per busy second (x realtime)."""
        return self.video_seconds / self.busy_seconds if self.busy_seconds else 0.0


class AnalysisWorker:
    """The body of a Ray actor: one encoder, loaded once, analysing file after file."""

    def __init__(self, spec: dict[str, Any], labels: LabelModel, options: IndexOptions,
                 extractors: Mapping[str, Any] | None = None) -> None:
        for name, factory in (extractors or {}).items():  # the driver's extractors (words), here too
            if name not in registered():
                register(name, factory)
        self.analyser = Analyser(load_from_spec(spec), labels, options)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def where(self) -> str:
        """``host:pid`` of this worker."""
        return self.name

    def readable(self, path: str) -> bool:
        """Whether this worker can open ``path``."""
        return os.access(path, os.R_OK)

    def analyse(self, path: str, digest: str) -> Answer:
        """Analyse one file; bad media becomes an Answer with a reason, never an exception."""
        started = time.perf_counter()
        if not os.access(path, os.R_OK):
            return Answer(self.name, None, f"not readable on Ray worker {self.name} ({SHARED_STORAGE})", 0.0)
        try:
            analysis = self.analyser.analyse(Path(path), digest)
        except MediaError as exc:
            return Answer(self.name, None, exc.reason, time.perf_counter() - started)
        except Exception as exc:  # a decoder/library bug must not stop the batch
            log.warning("skipping %s: unexpected error", path, exc_info=True)
            return Answer(self.name, None, f"unexpected error: {type(exc).__name__}: {exc}",
                          time.perf_counter() - started)
        return Answer(self.name, analysis, "", time.perf_counter() - started)


class RayIndexer:
    """Indexes files into ``store`` with a pool of Ray actors (see the module docstring).

    ``workers``: actors in the pool (default: one per GPU when the cluster has GPUs, else one per
    CPU); ``per_worker``: files queued on each actor at once (2 keeps it busy while the driver
    commits). Call :func:`indexer.pipeline.cluster.connect` first.
    """

    def __init__(self, store: Store, encoder: Encoder, labels: LabelModel, options: IndexOptions = IndexOptions(),
                 *, workers: int | None = None, per_worker: int = 2, progress: Any = None) -> None:
        if per_worker < 1 or (workers is not None and workers < 1):
            raise ValueError("workers and per_worker must be >= 1")
        self.store, self.labels, self.options = store, labels, options
        self.spec = encoder_spec(encoder)
        self.workers, self.per_worker, self.progress = workers, per_worker, progress
        self.stats: dict[str, WorkerStats] = {}

    def index_paths(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        """Index every video under ``paths`` (smallest first); yield one FileResult per file.

        Raises: ClusterError (no Ray session, or the workers cannot read the files).
        """
        files: list[tuple[int, Path]] = []
        for item in discover(paths):
            if isinstance(item, MediaError):
                yield FileResult(item.path.absolute(), "failed", item.reason)
                continue
            try:
                files.append((item.stat().st_size, item.absolute()))
            except OSError as exc:
                yield FileResult(item.absolute(), "failed", exc.strerror or str(exc))
        if files:
            files.sort()
            yield from self._run(deque(path for _size, path in files))

    def _run(self, queue: deque[Path]) -> Iterator[FileResult]:
        from indexer.pipeline.cluster import import_ray

        ray = import_ray()
        if not ray.is_initialized():
            raise ClusterError("no Ray session: connect to a cluster first")
        pool: list[Any] = []  # started when the first file needs analysing
        try:
            yield from self._stream(ray, pool, queue)
        finally:
            for actor in pool:
                ray.kill(actor)

    def _stream(self, ray: Any, pool: list[Any], queue: deque[Path]) -> Iterator[FileResult]:
        """Keep every actor ``per_worker`` files deep; commit answers as they come."""
        load: dict[Any, int] = {}
        in_flight: dict[Any, tuple[Path, str, Any]] = {}
        while queue or in_flight:
            while queue and (not load or min(load.values()) < self.per_worker):
                path = queue.popleft()
                decision = self._triage(path)
                if isinstance(decision, FileResult):
                    yield decision
                    continue
                if not pool:
                    pool.extend(self._start_pool(ray))
                    self._check_readable(ray, pool, path)
                    load = dict.fromkeys(pool, 0)
                actor = min(load, key=load.get)
                ref = actor.analyse.remote(str(path), decision.digest)
                in_flight[ref] = (path, decision.status, actor)
                load[actor] += 1
            if not in_flight:
                continue
            [done], _ = ray.wait(list(in_flight), num_returns=1)
            path, status, actor = in_flight.pop(done)
            load[actor] -= 1
            yield self._finish(ray, done, path, status)

    def _triage(self, path: Path) -> FileResult | Work:
        """A FileResult for a file that needs no shipping (skipped, renamed, unreadable), else
        the Work to ship (the content hash is computed here, on the driver)."""
        started = time.perf_counter()
        try:
            decision = triage(self.store, path)
        except MediaError as exc:
            return FileResult(path, "failed", exc.reason)
        log.debug("%s triaged on the driver in %.3f s", path, time.perf_counter() - started)
        return decision

    def _finish(self, ray: Any, ref: Any, path: Path, status: str) -> FileResult:
        """Fetch a worker's answer and commit it (the single writer)."""
        try:
            answer: Answer = ray.get(ref)
        except Exception as exc:  # the actor died past its restarts, or Ray itself failed
            log.warning("worker lost while analysing %s", path, exc_info=True)
            return FileResult(path, "failed", f"Ray worker lost: {type(exc).__name__}")
        stats = self.stats.setdefault(answer.worker, WorkerStats(answer.worker))
        stats.busy_seconds += answer.seconds
        if answer.analysis is None:
            return FileResult(path, "failed", answer.reason, wall_seconds=answer.seconds)
        stats.files += 1
        stats.video_seconds += answer.analysis.video.info.duration
        if self.progress is not None:
            self.progress.start_file(path, answer.analysis.video.info.duration)
        result = committed(self.store, self.labels, path, status, answer.analysis)
        return FileResult(**{**result.__dict__, "wall_seconds": answer.seconds})

    def _start_pool(self, ray: Any) -> list[Any]:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        count = self.workers or gpus or max(1, int(resources.get("CPU", 1)))
        actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_restarts=3, max_task_retries=3)(AnalysisWorker)
        pool = [actor.remote(self.spec, self.labels, self.options, registered()) for _ in range(count)]
        log.info("started %d analysis worker(s)%s", count, " with one GPU each" if gpus else "")
        return pool

    @staticmethod
    def _check_readable(ray: Any, pool: list[Any], path: Path) -> None:
        """Raises ClusterError when a worker cannot read ``path`` (no shared storage)."""
        try:
            answers = ray.get([actor.readable.remote(str(path)) for actor in pool])
            names = ray.get([actor.where.remote() for actor in pool])
        except Exception as exc:
            raise ClusterError(f"the Ray workers did not start: {exc}") from None
        blind = [name for name, ok in zip(names, answers) if not ok]
        if blind:
            raise ClusterError(f"{path} is not readable on Ray worker {blind[0]}: {SHARED_STORAGE}")
