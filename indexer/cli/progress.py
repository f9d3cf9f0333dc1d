"""Progress display for ``reelsearch index``: a tqdm bar in video-seconds, per-file lines, a summary."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from indexer.pipeline.orchestrate import FileResult
from indexer.types import format_timestamp


class IndexProgress:
    """A tqdm bar whose unit is seconds of video; its total grows as files start.

    Files may be analysed in several threads at once: each one's share of the bar is kept apart
    (whole milliseconds, so float sums never push the bar past its total), under one lock.
    """

    def __init__(self, disable: bool | None = None) -> None:
        """``disable``: None shows the bar only on a terminal (tqdm's rule)."""
        self.bar = tqdm(total=0, unit="s", unit_scale=0.001, desc="indexing", dynamic_ncols=True,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} video-s "
                                   "[{elapsed}<{remaining}, {rate_fmt}]",
                        file=sys.stderr, disable=disable)
        self._files: dict[Path, list[int]] = {}  # path -> [ms of video, ms shown done]
        self._lock = threading.Lock()

    def __enter__(self) -> "IndexProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def start_file(self, path: Path, duration: float) -> None:
        with self._lock:
            total = max(0, round(duration * 1000))
            self._files[path] = [total, 0]
            self.bar.total = (self.bar.total or 0) + total
            self.bar.set_postfix_str(path.name[-40:], refresh=False)
            self.bar.refresh()

    def advance(self, path: Path, seconds: float) -> None:
        with self._lock:
            self._advance(path, round(seconds * 1000))

    def file_done(self, result: FileResult) -> None:
        """Top the bar up to the file's end and print one line about it."""
        with self._lock:
            if result.path in self._files:
                total, _done = self._files[result.path]
                self._advance(result.path, total)
                del self._files[result.path]
            self.bar.write(file_line(result))

    def _advance(self, path: Path, ms: int) -> None:
        total, done = self._files.get(path, (0, 0))
        step = min(ms, total - done)
        if step > 0:
            self._files[path][1] = done + step
            self.bar.update(step)


def count(number: int, noun: str) -> str:
    """``1 frame``, ``3 frames``: a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def file_line(result: FileResult) -> str:
    """One line per file: what happened, how long the video is, how fast it went."""
    if result.status == "failed":
        return f"skipping {result.path}: {result.reason}"
    if result.status in ("skipped", "renamed"):
        extra = f" ({result.reason})" if result.reason else ""
        return f"{result.status} {result.path}{extra}"
    speed = result.video_seconds / result.wall_seconds if result.wall_seconds else 0.0
    line = (f"{result.status} {result.path}: {format_timestamp(result.video_seconds)}, "
            f"{count(result.frames, 'frame')}, {speed:.1f}x realtime")
    if result.labels:
        line += " — " + ", ".join(f"{label} {seconds:.1f}s" for label, seconds in result.labels)
    elif result.status in ("indexed", "reindexed"):
        line += " — no category recognised"
    if result.words:
        line += f"; words: {result.words}"
    if result.partial:
        line += f" — partially: {result.reason}"
    return line


def summary_line(results: Sequence[FileResult], wall_seconds: float) -> str:
    """Files indexed/skipped/failed, video-hours, speed as x-realtime."""
    count = {s: sum(r.status == s for r in results) for s in
             ("indexed", "reindexed", "skipped", "renamed", "failed")}
    encoded = [r for r in results if r.status in ("indexed", "reindexed")]
    video_s = sum(r.video_seconds for r in encoded)
    speed = video_s / wall_seconds if wall_seconds > 0 else 0.0
    parts = [f"{count['indexed'] + count['reindexed']} indexed"]
    if count["reindexed"]:
        parts[-1] += f" ({count['reindexed']} changed)"
    parts += [f"{count['skipped']} unchanged", f"{count['renamed']} renamed", f"{count['failed']} failed"]
    partial = sum(r.partial for r in results)
    if partial:
        parts.append(f"{partial} partially decoded")
    return (f"done: {', '.join(parts)}; {video_s / 3600:.3f} video-hours in {wall_seconds:.1f} s "
            f"({speed:.1f}x realtime)")


def worker_line(stats) -> str:
    """One line per Ray worker (a :class:`~indexer.pipeline.distributed.WorkerStats`): its throughput."""
    threads = f", {count(stats.threads, 'torch thread')}" if stats.threads else ""
    return (f"  worker {stats.worker}: {count(stats.files, 'file')}, {stats.video_seconds / 3600:.3f} video-hours "
            f"in {stats.busy_seconds:.1f} s busy ({stats.speed:.1f}x realtime{threads})")
