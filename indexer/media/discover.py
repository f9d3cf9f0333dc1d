"""Find the video files under the paths a user gives: files and folders, recursively.

A folder walk follows symbolic links but never loops (each real directory is visited once)
and yields a ``MediaError`` instead of raising for what it cannot read, so a batch goes on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

from indexer.errors import MediaError

log = logging.getLogger(__name__)

#: File extensions a folder walk treats as video (a file named explicitly is always tried).
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .wmv .flv .3gp .ogv .mxf .vob".split()
)


def is_video_name(path: Path) -> bool:
    """True if ``path`` has a video file extension (case-insensitive)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def discover(paths: Iterable[str | Path]) -> Iterator[Path | MediaError]:
    """Yield video files under ``paths`` in a stable order, or a MediaError for each bad path.

    Files given explicitly are yielded whatever their extension; folders are walked
    recursively for files with a video extension. Each file is yielded once.
    """
    seen_files: set[Path] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        for item in _discover_one(path, seen_dirs):
            if isinstance(item, Path):
                key = item.absolute()
                if key in seen_files:
                    continue
                seen_files.add(key)
            yield item


def _discover_one(path: Path, seen_dirs: set[tuple[int, int]]) -> Iterator[Path | MediaError]:
    try:
        st = path.stat()
    except FileNotFoundError:
        yield MediaError(path, "no such file or directory")
        return
    except OSError as exc:  # ELOOP, EACCES on a parent, ...
        yield MediaError(path, _os_reason(exc))
        return
    if path.is_dir():
        if (st.st_dev, st.st_ino) not in seen_dirs:  # a folder given twice is walked once
            yield from _walk(path, st, seen_dirs)
    else:
        yield path


def _walk(root: Path, st: os.stat_result, seen_dirs: set[tuple[int, int]]) -> Iterator[Path | MediaError]:
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        yield MediaError(root, "symbolic link loop (folder already visited), skipped")
        return
    seen_dirs.add(key)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        yield MediaError(root, _os_reason(exc))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = not is_dir and entry.is_file(follow_symlinks=True)
        except OSError as exc:
            yield MediaError(path, _os_reason(exc))
            continue
        if is_dir:
            try:
                sub = path.stat()
            except OSError as exc:
                yield MediaError(path, _os_reason(exc))
                continue
            yield from _walk(path, sub, seen_dirs)
        elif is_file and is_video_name(path):
            yield path
        elif not is_file and not is_dir and entry.is_symlink():
            if is_video_name(path) or _is_loop(path):
                yield MediaError(path, _broken_link_reason(path))


def _is_loop(path: Path) -> bool:
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == 40  # ELOOP
    return False


def _broken_link_reason(path: Path) -> str:
    return "symbolic link loop" if _is_loop(path) else "broken symbolic link"


def _os_reason(exc: OSError) -> str:
    if exc.errno == 40:
        return "symbolic link loop"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)
