"""Tests for indexer.cli.progress: the index progress bar with files analysed at once, file lines."""

from __future__ import annotations

import threading
from pathlib import Path

from indexer.cli.progress import IndexProgress, file_line
from indexer.pipeline.orchestrate import FileResult


def test_files_in_flight_keep_their_own_share_of_the_bar() -> None:
    a, b = Path("/ads/a.mp4"), Path("/ads/b.mp4")
    with IndexProgress(disable=False) as progress:
        progress.start_file(a, 10.0)
        progress.start_file(b, 4.0)  # b starts before a is done
        progress.advance(a, 3.0)
        progress.advance(b, 1.5)
        progress.advance(b, 9.0)  # never past b's own end
        assert (progress.bar.n, progress.bar.total) == (7000, 14000)
        progress.file_done(FileResult(a, "indexed", video_seconds=10.0, wall_seconds=1.0))
        assert progress.bar.n == 14000  # a topped up to its end, b already at its end
        progress.file_done(FileResult(b, "indexed", video_seconds=4.0, wall_seconds=1.0))
        progress.file_done(FileResult(Path("/ads/bad.mp4"), "failed", "not a media file"))
        assert (progress.bar.n, progress.bar.total) == (14000, 14000)


def test_advances_from_many_threads_add_up_exactly() -> None:
    paths = [Path(f"/ads/{i}.mp4") for i in range(4)]
    with IndexProgress(disable=False) as progress:
        for path in paths:
            progress.start_file(path, 2.0)

        def advance(path: Path) -> None:
            for _ in range(400):
                progress.advance(path, 0.001)

        threads = [threading.Thread(target=advance, args=(p,)) for p in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert progress.bar.n == 4 * 400


def test_file_line_says_what_happened() -> None:
    line = file_line(FileResult(Path("/ads/a.mp4"), "indexed", video_seconds=10.0, frames=1, wall_seconds=2.0))
    assert line == "indexed /ads/a.mp4: 00:00:10.000, 1 frame, 5.0x realtime — no category recognised"
    assert file_line(FileResult(Path("/x.mp4"), "failed", "not a media file")) == "skipping /x.mp4: not a media file"
