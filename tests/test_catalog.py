"""Tests of indexer.store.catalog, catalog_queries, catalog_segments and migrations on real SQLite files."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.store import queries as q
from indexer.store import segment_queries as qs
from indexer.store import migrations
from indexer.store.catalog import Catalog, NewVideo, SegmentRecord, VideoRecord
from indexer.errors import NotFoundError, StoreError
from indexer.types import Segment, ShotCut, Transition, VideoInfo


def info(path: str = "/v.mp4", duration: float = 30.0, fps: Fraction | None = Fraction(24000, 1001)) -> VideoInfo:
    return VideoInfo(Path(path), duration, fps, 1920, 1080, 90, 1.4, "h264")


@pytest.fixture()
def catalog(tmp_path: Path):
    cat = Catalog.open(tmp_path / "catalog.sqlite3")
    yield cat
    cat.close()


def add_video(catalog: Catalog, path: str, segments: list[Segment], frames: int = 4) -> int:
    with catalog.write() as conn:
        video_id, _ = q.upsert_video(conn, NewVideo(Path(path), "hash", 10, 0.0, info(path), 0.5), 1.0)
        q.insert_frames(conn, video_id, np.arange(frames) * 0.5, np.arange(frames),
                        np.ones((frames, 4), np.float32))
        qs.insert_auto_segments(conn, video_id, segments, 1.0)
    return video_id


def add_version1_video(catalog: Catalog, path: str, segments: list[Segment], frame_times: list[float]) -> int:
    """A video as reelsearch wrote it with schema version 1 (raw SQL: today's queries write
    columns that version lacks)."""
    with catalog.write() as conn:
        video_id = conn.execute(
            "INSERT INTO videos (path, content_hash, size, mtime, duration, fps_num, fps_den, width, height, "
            "codec, sample_every, status, indexed_at) VALUES (?, 'hash', 10, 0, 10.0, 25, 1, 64, 48, 'h264', "
            "0.5, 'ok', 1.0)", (path,)).lastrowid
        conn.executemany("INSERT INTO frames (video_id, time, pts, embedding) VALUES (?, ?, ?, ?)",
                         [(video_id, t, int(t * 1000), np.full(4, t, "<f4").tobytes()) for t in frame_times])
        conn.executemany("INSERT INTO segments (video_id, label, start, \"end\", score, source, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, 'auto', 1.0)",
                         [(video_id, s.label, s.start, s.end, s.score) for s in segments])
    return video_id


def test_new_catalog_has_schema_wal_and_foreign_keys(catalog: Catalog) -> None:
    conn = catalog.conn
    assert migrations.schema_version(conn) == migrations.SCHEMA_VERSION == len(migrations.MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "videos", "frames", "cuts", "transitions", "segments", "users", "audit_log"} <= tables
    indexes = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert "frames (video_id, time)" in indexes["frames_video_time"]
    assert {"segments_video", "segments_label", "cuts_video"} <= set(indexes)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 16_384


def test_reopen_does_not_migrate_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Catalog.open(tmp_path / "c.sqlite3").close()
    version = migrations.SCHEMA_VERSION
    monkeypatch.setattr(migrations, "MIGRATIONS", ())  # any attempt to re-run would fail loudly
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", version)
    Catalog.open(tmp_path / "c.sqlite3").close()


def test_newer_store_asks_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    Catalog.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="upgrade reelsearch"):
            Catalog.open(path, readonly=readonly)


def test_failed_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        conn.execute("THIS IS NOT SQL")

    path = tmp_path / "c.sqlite3"
    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.m001_initial,))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 1)
    Catalog.open(path).close()
    version = migrations.SCHEMA_VERSION
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, m999_broken))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", version + 1)
    with pytest.raises(StoreError, match="cannot migrate"):
        Catalog.open(path)
    with pytest.raises(StoreError, match="older schema"):
        Catalog.open(path, readonly=True)
    conn = sqlite3.connect(path)
    assert migrations.schema_version(conn) == version
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    conn.close()


def test_version_1_store_gains_transitions_and_cut_margins(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.sqlite3"
    with monkeypatch.context() as patch:  # a store written before transitions existed
        patch.setattr(migrations, "MIGRATIONS", (migrations.m001_initial,))
        patch.setattr(migrations, "SCHEMA_VERSION", 1)
        old = Catalog.open(path)
        video_id = add_version1_video(old, "/v.mp4", [], [0.0, 0.5])
        with old.write() as conn:
            conn.execute("INSERT INTO cuts (video_id, time, pts, score) VALUES (?, 1.5, 45, 30.0)", (video_id,))
        old.close()
    catalog = Catalog.open(path)
    with catalog.read() as conn:
        assert migrations.schema_version(conn) == migrations.SCHEMA_VERSION
        assert q.shot_cuts(conn, video_id) == [ShotCut(1.5, 45, 30.0, None)]  # margin unknown
        assert q.transitions(conn, video_id) == []
    fade = Transition("fade_out", 2.0, 2.5, 60, 75, 40.0, "black")
    with catalog.write() as conn:
        q.insert_transitions(conn, video_id, [fade])
        q.insert_cuts(conn, video_id, [ShotCut(3.0, 90, 20.0, 7.5)])
    with catalog.read() as conn:
        assert q.transitions(conn, video_id) == [fade]
        assert q.shot_cuts(conn, video_id)[-1].margin == 7.5
    catalog.close()


def test_migration_keeps_only_the_parents_own_evidence(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores of earlier versions held parent segments copied from their children."""
    path = tmp_path / "c.sqlite3"
    with monkeypatch.context() as old:
        old.setattr(migrations, "MIGRATIONS", (migrations.m001_initial,))
        old.setattr(migrations, "SCHEMA_VERSION", 1)
        cat = Catalog.open(path)
        add_version1_video(cat, "/a.mp4", [Segment("alcohol", 0.0, 3.0, 0.9), Segment("alcohol/wine", 0.0, 3.0, 0.9),
                                           Segment("places", 0.0, 10.0, 0.8), Segment("places/nature", 4.0, 6.0, 0.8),
                                           Segment("sports", 0.0, 2.0, 0.7)], [0.0, 0.5])
        cat.close()
    cat = Catalog.open(path)
    with cat.read() as conn:
        left = sorted((s.label, s.start, s.end) for s in qs.segments(conn, 1))
    cat.close()
    assert left == [("alcohol/wine", 0.0, 3.0), ("places", 0.0, 4.0), ("places", 6.0, 10.0),
                    ("places/nature", 4.0, 6.0), ("sports", 0.0, 2.0)]


def test_readonly_catalog_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    Catalog.open(path).close()
    cat = Catalog.open(path, readonly=True)
    with pytest.raises(StoreError, match="read-only"), cat.write():
        pass
    with pytest.raises(sqlite3.DatabaseError), cat.read() as conn:
        conn.execute("INSERT INTO meta VALUES ('x', 'y')")
    cat.close()
    with pytest.raises(StoreError, match="no index"):
        Catalog.open(tmp_path / "absent.sqlite3", readonly=True)


def test_video_record_round_trip_keeps_exact_fps(catalog: Catalog) -> None:
    with catalog.write() as conn:
        new = NewVideo(Path("/a.ts"), "h1", 99, 12.5, info("/a.ts"), 0.25, "partial", "lost 2.0 s")
        video_id, old = q.upsert_video(conn, new, 100.0)
        q.upsert_video(conn, NewVideo(Path("/b.mp4"), "h1", 1, 0, info("/b.mp4", fps=None), 1), 100.0)
    assert old.size == 0
    with catalog.read() as conn:
        video = q.get_video(conn, video_id)
        other = q.video_by_path(conn, "/b.mp4")
        assert [v.id for v in q.videos_by_hash(conn, "h1")] == [video_id, other.id]
        assert q.list_videos(conn, min_duration=31) == []
        with pytest.raises(NotFoundError):
            q.get_video(conn, 42)
    assert isinstance(video, VideoRecord) and video.fps == Fraction(24000, 1001)
    assert (video.rotation, video.start_time, video.status, video.note) == (90, 1.4, "partial", "lost 2.0 s")
    assert other.fps is None


def test_records_validate() -> None:
    with pytest.raises(ValueError):
        NewVideo(Path("/a"), "", 1, 0.0, info(), 0.5)
    with pytest.raises(ValueError):
        NewVideo(Path("/a"), "h", 1, 0.0, info(), 0.0)
    with pytest.raises(ValueError):
        NewVideo(Path("/a"), "h", 1, 0.0, info(), 0.5, status="broken")
    with pytest.raises(ValueError):
        SegmentRecord(1, 1, "red", 5.0, 4.0, 1.0, 0, 0, "auto", "active", None, 0.0)
    with pytest.raises(ValueError):
        SegmentRecord(1, 1, "red", 1.0, 4.0, 1.0, 0, 0, "model", "active", None, 0.0)
    seg = SegmentRecord(1, 1, "red", 1.0, 4.0, 0.5, 0.25, 0, "curator", "active", "ann", 0.0)
    assert seg.to_segment() == Segment("red", 1.0, 4.0, 0.5, 0.25, 0.0, "curator")
    assert seg.duration == 3.0
    as_json = seg.to_dict()  # the one JSON shape of a segment (API, pages, audit log)
    assert as_json["start_hms"] == "00:00:01.000" and as_json["end_hms"] == "00:00:04.000"
    assert set(seg.to_segment().to_dict()) <= set(as_json)  # a computed segment: the same keys, fewer


def test_cascade_delete_and_frame_queries(catalog: Catalog) -> None:
    a = add_video(catalog, "/a.mp4", [Segment("red", 0, 1, 0.5)])
    b = add_video(catalog, "/b.mp4", [], frames=3)
    with catalog.write() as conn:
        removed = q.delete_video(conn, a)
    with catalog.read() as conn:
        assert removed.tolist() == [1, 2, 3, 4]
        assert q.all_frame_ids(conn).tolist() == [5, 6, 7]
        assert q.frame_stats(conn) == q.FrameStats(3, 7, 18)
        assert qs.segments(conn, a) == []
        assert q.frame_locations(conn, [1, 6]) == {6: (b, 0.5)}
        batches = list(q.frames_after(conn, 5, 4))
        assert [ids.tolist() for ids, _ in batches] == [[6, 7]]


def test_label_stats_count_union_of_active_segments(catalog: Catalog) -> None:
    a = add_video(catalog, "/a.mp4", [Segment("red", 0, 4, 0.5), Segment("red", 3, 6, 0.5),
                                      Segment("red", 10, 11, 0.5), Segment("blue", 0, 2, 0.5)])
    b = add_video(catalog, "/b.mp4", [Segment("red", 1, 2, 0.5), Segment("green", 0, 5, 0.5)])
    with catalog.write() as conn:
        conn.execute("UPDATE segments SET status = 'rejected' WHERE label = 'green'")
    with catalog.read() as conn:
        stats = qs.label_stats(conn)
        by_label = qs.videos_with_labels(conn, ["red", "green"])
    assert set(stats) == {"red", "blue"}
    assert (stats["red"].videos, stats["red"].duration) == (2, 8.0)  # (0-6) + (10-11) + (1-2)
    assert (stats["blue"].videos, stats["blue"].duration) == (1, 2.0)
    assert set(by_label) == {a, b} and [s.start for s in by_label[a]] == [0, 3, 10]
