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

Nothing on the driver waits for the pool to start: the actors load their encoders while the
driver triages and queues the first files, and the check that workers can read the paths
comes back like any answer. Each actor gets an equal share of the cluster's CPUs (``num_cpus``,
so Ray sets its OMP_NUM_THREADS and torch uses that many threads) and analyses ``overlap``
files at once (Ray's ``max_concurrency``): one decodes while the other encodes, so the gaps at
file boundaries (opening, probing, labelling, thumbnails) are filled.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
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
    threads: int = 0  # torch's threads in the worker (0: the encoder does not use torch)
    busy: float = 0.0  # wall seconds this worker has spent analysing so far (files overlap)


@dataclass
class WorkerStats:
    """What one worker did: files analysed, video-seconds, seconds spent analysing, torch threads."""

    worker: str
    threads: int = 0
    files: int = 0
    video_seconds: float = 0.0
    busy_seconds: float = 0.0

    @property
    def speed(self) -> float:
        """Video-seconds per busy second (x realtime)."""
        return self.video_seconds / self.busy_seconds if self.busy_seconds else 0.0


class AnalysisWorker:
    """The body of a Ray actor: one encoder, loaded once, analysing file after file (several at
    once when the actor's ``max_concurrency`` allows; the analyser keeps no per-file state, and
    its encoder runs take turns, so two encodes never oversubscribe torch's threads)."""

    def __init__(self, spec: dict[str, Any], labels: LabelModel, options: IndexOptions,
                 extractors: Mapping[str, Any] | None = None) -> None:
        for name, factory in (extractors or {}).items():  # the driver's extractors (words), here too
            if name not in registered():
                register(name, factory)
        self.analyser = Analyser(load_from_spec(spec), labels, options)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._active, self._since, self._busy = 0, 0.0, 0.0  # files being analysed, since when, busy so far

    def where(self) -> str:
        """``host:pid`` of this worker."""
        return self.name

    def readable(self, path: str) -> tuple[str, bool]:
        """(``host:pid``, whether this worker can open ``path``)."""
        return self.name, os.access(path, os.R_OK)

    def analyse(self, path: str, digest: str) -> Answer:
        """Analyse one file; bad media becomes an Answer with a reason, never an exception."""
        started = time.perf_counter()
        with self._lock:
            if not self._active:
                self._since = started
            self._active += 1
        if not os.access(path, os.R_OK):
            return self._answer(None, f"not readable on Ray worker {self.name} ({SHARED_STORAGE})", started)
        try:
            analysis = self.analyser.analyse(Path(path), digest)
        except MediaError as exc:
            return self._answer(None, exc.reason, started)
        except Exception as exc:  # a decoder/library bug must not stop the batch
            log.warning("skipping %s: unexpected error", path, exc_info=True)
            return self._answer(None, f"unexpected error: {type(exc).__name__}: {exc}", started)
        return self._answer(analysis, "", started)

    def _answer(self, analysis: Analysis | None, reason: str, started: float) -> Answer:
        now = time.perf_counter()
        with self._lock:
            self._active -= 1
            busy = self._busy + now - self._since
            if not self._active:
                self._busy = busy
        torch = sys.modules.get("torch")  # imported by the encoder, if it uses torch
        threads = int(torch.get_num_threads()) if torch is not None else 0
        return Answer(self.name, analysis, reason, now - started, threads, busy)


#: Times the driver sends a file again when the worker analysing it died and Ray's own task
#: retries did not bring an answer (a task queued on a killed threaded actor can fail outright).
LOST_RETRIES = 2


class RayIndexer:
    """Indexes files into ``store`` with a pool of Ray actors (see the module docstring).

    ``workers``: actors in the pool (default: one per GPU when the cluster has GPUs, else one per
    CPU); each gets an equal share of the CPUs (at most a node's). ``overlap``: files one actor
    analyses at once; ``per_worker``: files queued on each actor (default ``overlap + 1``, so it
    never waits for the driver). Call :func:`indexer.pipeline.cluster.connect` first.
    """

    def __init__(self, store: Store, encoder: Encoder, labels: LabelModel, options: IndexOptions = IndexOptions(),
                 *, workers: int | None = None, overlap: int = 2, per_worker: int | None = None,
                 progress: Any = None) -> None:
        per_worker = overlap + 1 if per_worker is None else per_worker
        if per_worker < 1 or overlap < 1 or (workers is not None and workers < 1):
            raise ValueError("workers, overlap and per_worker must be >= 1")
        self.store, self.labels, self.options = store, labels, options
        self.spec = encoder_spec(encoder)
        self.workers, self.overlap, self.per_worker, self.progress = workers, overlap, per_worker, progress
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
        in_flight: dict[Any, tuple[Path, str, str, Any]] = {}  # ref -> path, status, digest, actor
        lost: dict[Path, int] = {}  # files whose worker died under them, and how often
        checks: dict[Any, Path] = {}  # can the workers read the paths? (answered like any file)
        while queue or in_flight:
            while queue and (not load or min(load.values()) < self.per_worker):
                path = queue.popleft()
                decision = self._triage(path)
                if isinstance(decision, FileResult):
                    yield decision
                    continue
                if not pool:
                    pool.extend(self._start_pool(ray))
                    checks = {actor.readable.remote(str(path)): path for actor in pool}
                    load = dict.fromkeys(pool, 0)
                actor = min(load, key=load.get)
                ref = actor.analyse.remote(str(path), decision.digest)
                in_flight[ref] = (path, decision.status, decision.digest, actor)
                load[actor] += 1
            if not in_flight:
                continue
            [done], _ = ray.wait([*checks, *in_flight], num_returns=1)
            if done in checks:
                self._verdict(ray, [done], checks.pop(done))
                continue
            path, status, digest, actor = in_flight.pop(done)
            load[actor] -= 1
            try:
                answer: Answer = ray.get(done)
            except Exception as exc:  # the actor died under it (past Ray's own retries), or Ray failed
                lost[path] = lost.get(path, 0) + 1
                if lost[path] <= LOST_RETRIES:
                    log.warning("worker lost while analysing %s: sent again (%d of %d)", path, lost[path],
                                LOST_RETRIES)
                    actor = min(load, key=load.get)  # Ray restarts a killed actor; work waits for it
                    in_flight[actor.analyse.remote(str(path), digest)] = (path, status, digest, actor)
                    load[actor] += 1
                    continue
                log.warning("worker lost while analysing %s", path, exc_info=True)
                yield FileResult(path, "failed", f"Ray worker lost: {type(exc).__name__}")
                continue
            yield self._finish(answer, path, status)

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

    def _finish(self, answer: Answer, path: Path, status: str) -> FileResult:
        """Commit a worker's answer (the single writer)."""
        stats = self.stats.setdefault(answer.worker, WorkerStats(answer.worker, answer.threads))
        stats.busy_seconds = max(stats.busy_seconds, answer.busy)
        if answer.analysis is None:
            return FileResult(path, "failed", answer.reason, wall_seconds=answer.seconds)
        stats.files += 1
        stats.video_seconds += answer.analysis.video.info.duration
        if self.progress is not None:
            self.progress.start_file(path, answer.analysis.video.info.duration)
        result = committed(self.store, self.labels, path, status, answer.analysis)
        return FileResult(**{**result.__dict__, "wall_seconds": answer.seconds})

    def _start_pool(self, ray: Any) -> list[Any]:
        """Start the actors (without waiting for them): ``workers`` of them, or one per GPU,
        else one per CPU; each with an equal share of the CPUs that fits on one node."""
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        count = self.workers or gpus or max(1, cpus)
        nodes = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        share = max(1, min(cpus // count, max(nodes, default=1)))
        actor = ray.remote(num_cpus=share, num_gpus=1 if gpus else 0, max_restarts=3, max_task_retries=3,
                           max_concurrency=self.overlap)(AnalysisWorker)
        pool = [actor.remote(self.spec, self.labels, self.options, registered()) for _ in range(count)]
        log.info("started %d analysis worker(s) of %d CPU(s)%s, %d file(s) at once each", count, share,
                 " and one GPU" if gpus else "", self.overlap)
        return pool

    @staticmethod
    def _verdict(ray: Any, checks: list[Any], path: Path) -> None:
        """Raises ClusterError when a worker answered that it cannot read ``path`` (no shared
        storage), or did not start."""
        try:
            answers = ray.get(checks)
        except Exception as exc:
            raise ClusterError(f"the Ray workers did not start: {exc}") from None
        blind = [name for name, ok in answers if not ok]
        if blind:
            raise ClusterError(f"{path} is not readable on Ray worker {blind[0]}: {SHARED_STORAGE}")

    @classmethod
    def _check_readable(cls, ray: Any, pool: list[Any], path: Path) -> None:
        """Raises ClusterError when a worker cannot read ``path`` (waits for the actors to start)."""
        cls._verdict(ray, [actor.readable.remote(str(path)) for actor in pool], path)
