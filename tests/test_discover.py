"""Tests for indexer.media.discover: recursive walks, explicit files, bad paths and symlink loops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.media.discover import discover, is_video_name
from indexer.errors import MediaError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_walks_folders_recursively_for_video_extensions(tmp_path: Path) -> None:
    a = _touch(tmp_path / "a.mp4")
    b = _touch(tmp_path / "sub" / "deeper" / "b.MKV")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "cover.jpg")
    assert list(discover([tmp_path])) == [a, b]


def test_explicit_file_is_tried_whatever_its_extension(tmp_path: Path) -> None:
    odd = _touch(tmp_path / "clip.bin")
    assert list(discover([odd])) == [odd]


def test_each_file_is_yielded_once(tmp_path: Path) -> None:
    a = _touch(tmp_path / "a.mov")
    assert list(discover([tmp_path, a, tmp_path])) == [a]


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    items = list(discover([tmp_path / "nope", tmp_path]))
    assert len(items) == 1 and isinstance(items[0], MediaError)
    assert "nope" in str(items[0]) and "no such file" in str(items[0])


def test_symlink_loop_is_reported_once_and_walk_goes_on(tmp_path: Path) -> None:
    a = _touch(tmp_path / "dir" / "a.mp4")
    os.symlink(tmp_path / "dir", tmp_path / "dir" / "loop")
    os.symlink(tmp_path / "l2", tmp_path / "l1.mp4")
    os.symlink(tmp_path / "l1.mp4", tmp_path / "l2")
    items = list(discover([tmp_path]))
    errors = [i for i in items if isinstance(i, MediaError)]
    assert [i for i in items if isinstance(i, Path)] == [a]
    assert any("loop" in str(e) and "dir/loop" in str(e) for e in errors)
    assert any("l1.mp4" in str(e) and "symbolic link loop" in str(e) for e in errors)


def test_unreadable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    _touch(locked / "a.mp4")
    b = _touch(tmp_path / "b.mp4")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads every folder: simulate the refusal instead
        real_scandir = os.scandir

        def scandir(path):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        items = list(discover([tmp_path]))
    finally:
        locked.chmod(0o755)
    assert b in items
    assert any(isinstance(i, MediaError) and i.path == locked and "permission denied" in str(i) for i in items)


@pytest.mark.parametrize("name,expected", [("x.mp4", True), ("X.WEBM", True), ("a.ts", True),
                                            ("a.m4v", True), ("a.txt", False), ("a.png", False)])
def test_is_video_name(name: str, expected: bool) -> None:
    assert is_video_name(Path(name)) is expected
