"""Tests of indexer.store.summaries: the counters, frame-id ranges, sample keys and label
coverage the store keeps in step with every change stay exactly what a full recomputation
from the base tables gives, whatever sequence of writes, re-indexes, renames, curator edits
and deletions came before."""

from __future__ import annotations

import os
import sqlite3
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.labels.names import label_resolver
from indexer.labels.taxonomy import load_taxonomy
from indexer.store.coverage import covered_seconds
from indexer.store import NewVideo, Store, curation
from indexer.store import migrations
from indexer.store import queries as q
from indexer.store import summaries
from indexer.store.catalog import Catalog
from indexer.types import Segment, ShotCut, VideoInfo

DIM = 8


def write(store: Store, path: str, n: int, seed: int, segments: list[Segment] = (), duration: float = 10.0,
          content: str | None = None) -> int:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    times = np.arange(n) * 0.5
    info = VideoInfo(Path(path), duration, Fraction(25), 64, 48, 0, 0.0, "h264")
    new = NewVideo(Path(path), content or f"hash-{path}-{seed}", 100, 0.0, info, 0.5)
    return store.write_video(new, times, (times * 90000).astype(int), vectors, [ShotCut(1.0, 90000, 1.0)],
                             list(segments))


def expected(conn: sqlite3.Connection) -> dict:
    """Every summary recomputed from the base tables, the slow obvious way."""
    videos = conn.execute("SELECT id, duration FROM videos").fetchall()
    frames = conn.execute("SELECT id, video_id FROM frames ORDER BY id").fetchall()
    ranges = {}
    for video_id, _ in videos:
        ids = [f for f, v in frames if v == video_id]
        assert ids == list(range(ids[0], ids[0] + len(ids))) if ids else True, "frames not one id range"
        ranges[video_id] = (ids[0] if ids else 0, len(ids))
    evidence = summaries.video_evidence(conn, [v for v, _ in videos])
    coverage: dict[tuple[str, int], tuple[int, int]] = {}
    for video_id, _ in videos:
        for label, pieces in summaries.present(evidence.get(video_id, [])).items():
            micros = int(round(covered_seconds(pieces) * 1e6))
            coverage[(label, video_id)] = (micros, int(any(p.label == label for p in pieces)))
    totals: dict[str, list[int]] = {}
    for (label, _), (micros, own) in coverage.items():
        row = totals.setdefault(label, [0, 0, 0])
        row[0], row[1], row[2] = row[0] + 1, row[1] + micros, row[2] + own
    return {"counters": {"videos": len(videos), "duration_us": sum(round(d * 1e6) for _, d in videos),
                         "frames": len(frames), "frame_id_sum": sum(f for f, _ in frames)},
            "ranges": ranges, "coverage": coverage, "totals": {k: tuple(v) for k, v in totals.items()}}


def maintained(conn: sqlite3.Connection) -> dict:
    return {"counters": summaries.counters(conn),
            "ranges": {v: (f, n) for v, f, n in conn.execute("SELECT id, first_frame, frame_count FROM videos")},
            "coverage": {(lab, v): (m, o) for lab, v, m, o in
                         conn.execute("SELECT label, video_id, micros, own FROM label_coverage")},
            "totals": {lab: (n, m, o) for lab, n, m, o in
                       conn.execute("SELECT label, videos, micros, own FROM label_totals")}}


def assert_exact(store: Store) -> None:
    with store.catalog.read() as conn:
        assert maintained(conn) == expected(conn)
        assert conn.execute("SELECT count(*) FROM coverage_dirty").fetchone()[0] == 0


@pytest.fixture()
def store(tmp_path: Path):
    with Store.open(tmp_path / "data") as s:
        s.bind_encoder("test", DIM, {"kind": "test"})
        yield s


def test_writes_reindexes_renames_and_deletes_keep_every_summary_exact(store: Store) -> None:
    wine = [Segment("alcohol/wine", 0.0, 3.0, 0.9), Segment("places/port", 2.0, 6.0, 0.8)]
    a = write(store, "/v/a.mp4", 10, 1, wine, duration=12.5)
    b = write(store, "/v/b.mp4", 7, 2, [Segment("places", 1.0, 4.0, 0.7), Segment("places/nature", 3.0, 9.0, 0.7)])
    c = write(store, "/v/c.mp4", 0, 3)  # a video without frames
    assert_exact(store)
    write(store, "/v/a.mp4", 4, 4, [Segment("sports/football", 0.0, 1.5, 0.9)], duration=8.0)  # re-indexed
    assert_exact(store)
    store.rename_video(b, Path("/v/renamed.mp4"), 5.0)
    store.delete_video(c)
    assert_exact(store)
    store.delete_video(a)
    write(store, "/v/d.mp4", 3, 5, wine)
    assert_exact(store)
    with store.catalog.read() as conn:
        totals = summaries.label_totals(conn)
    assert totals["places"].videos == 2 and totals["places"].own_videos == 1  # b on its own, d via its port
    assert totals["alcohol"].duration == pytest.approx(3.0) and totals["alcohol"].own_videos == 0


def test_curator_changes_keep_coverage_and_totals_exact(store: Store) -> None:
    curation.add_user(store, "ann", "long enough")
    video = write(store, "/v/a.mp4", 6, 1, [Segment("alcohol/wine", 0.0, 4.0, 0.9), Segment("alcohol", 6.0, 8.0, 0.9)])
    other = write(store, "/v/b.mp4", 6, 2, [Segment("alcohol/beer", 1.0, 2.0, 0.9)])
    wine = next(s for s in store.segments(video) if s.label == "alcohol/wine")
    curation.reject(store, wine.id, "ann")  # alcohol keeps only its own 6-8 s in this video
    assert_exact(store)
    with store.catalog.read() as conn:
        assert summaries.label_totals(conn)["alcohol"].duration == pytest.approx(2.0 + 1.0)
    resolve = label_resolver(load_taxonomy(), new_tag=True)
    added = curation.add(store, video, "ann", "harbour crane", 1.0, 2.5, resolve=resolve)  # a free-text tag
    curation.edit(store, added.id, "ann", resolve=resolve, start=0.5, end=3.0)
    assert_exact(store)
    curation.accept(store, wine.id, "ann")
    curation.delete(store, added.id, "ann")
    store.delete_video(other)
    assert_exact(store)
    assert store.videos_showing(["alcohol"]) == {video}


def test_counters_answer_overview_and_the_index_reconcile_check(store: Store) -> None:
    write(store, "/v/a.mp4", 5, 1, duration=2.25)
    write(store, "/v/b.mp4", 3, 2, duration=1.5)
    assert store.overview() == (2, 3.75)
    with store.catalog.read() as conn:
        ids = np.array([r[0] for r in conn.execute("SELECT id FROM frames")])
        stats = q.frame_stats(conn)
    assert (stats.count, stats.max_id, stats.id_sum) == (len(ids), ids.max(), ids.sum())
    assert store.vector_count() == 8


def test_frame_ranges_map_frames_to_videos_and_restrict_searches(store: Store) -> None:
    a = write(store, "/v/a.mp4", 5, 1)
    b = write(store, "/v/b.mp4", 4, 2)
    write(store, "/v/a.mp4", 3, 3)  # re-indexed: new ids after b's
    with store.catalog.read() as conn:
        rows = conn.execute("SELECT id, video_id FROM frames ORDER BY id").fetchall()
    ids = np.array([r[0] for r in rows] + [10_000, -1])
    assert store.frame_videos(ids).tolist() == [r[1] for r in rows] + [-1, -1]
    store.delete_video(b)
    assert store.frame_videos(ids[:len(rows)]).tolist() == [a if v == a else -1 for _, v in rows]
    query = np.ones((1, DIM), np.float32)
    _, found = store.search_vectors(query, 10, video_ids=[a])
    assert sorted(found[0][found[0] >= 0].tolist()) == [i for i, v in rows if v == a]


def test_the_index_sample_is_the_frames_with_the_smallest_keys(store: Store) -> None:
    for i in range(6):
        write(store, f"/v/{i}.mp4", 10 + i, i)
    store.delete_video(3)
    with store.catalog.read() as conn:
        rows = conn.execute("SELECT f.pts, f.embedding, v.content_hash FROM frames f "
                            "JOIN videos v ON v.id = f.video_id").fetchall()
    keys = [int(summaries.sample_keys(h, np.array([p]))[0]) for p, _, h in rows]
    smallest = [rows[i][1] for i in np.argsort(keys)[:20]]
    assert store.sample_vectors(20).tobytes() == b"".join(smallest)
    assert len(store.sample_vectors(1000)) == len(rows)
    again = summaries.sample_keys("hash", np.arange(100))
    assert (again == summaries.sample_keys("hash", np.arange(100))).all() and len(set(again.tolist())) == 100
    assert 0 <= again.min() and again.max() < 2 ** summaries.KEY_BITS


def test_video_pages_filter_sort_and_count_like_a_sorted_list(store: Store) -> None:
    names = ["Harbour.mp4", "beach.mp4", "harbour-night.mp4", "Zebra.mp4", "airport.mp4"]
    for i, name in enumerate(names):
        write(store, f"/v/{name}", 2, i, duration=float(10 - i))
    everything = store.list_videos()
    by_name = sorted(everything, key=lambda v: (v.path.name.casefold(), v.id))
    page, total = store.video_page(offset=1, limit=2)
    assert total == 5 and [v.path.name for v in page] == [v.path.name for v in by_name[1:3]]
    page, total = store.video_page(text="HARBOUR", sort="duration", descending=True)
    assert total == 2 and [v.path.name for v in page] == ["Harbour.mp4", "harbour-night.mp4"]
    assert [v.id for v in store.video_page(sort="id", limit=10)[0]] == sorted(v.id for v in everything)
    with pytest.raises(ValueError):
        store.video_page(sort="size")


def test_label_pages_list_most_screen_time_first(store: Store) -> None:
    spans = {"a.mp4": (0.0, 2.0), "b.mp4": (0.0, 5.0), "c.mp4": (1.0, 4.0)}
    ids = {name: write(store, f"/v/{name}", 2, i, [Segment("places/port", *span, 0.8)])
           for i, (name, span) in enumerate(spans.items())}
    page, total = store.label_video_page("places", offset=0, limit=2)
    assert total == 3 and [(v.id, s) for v, s in page] == [(ids["b.mp4"], 5.0), (ids["c.mp4"], 3.0)]
    assert store.labels_union(["places"]) == (3, 10.0)


def test_migration_gives_old_stores_every_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store from before the summaries, with one video's frames not in one id range, is
    migrated: ranges made contiguous, keys, counters and coverage filled."""
    path = tmp_path / "catalog.sqlite3"
    before = migrations.MIGRATIONS.index(migrations.m008_summaries)
    with monkeypatch.context() as old:
        old.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        old.setattr(migrations, "SCHEMA_VERSION", before)
        catalog = Catalog.open(path)
        with catalog.write() as conn:
            for video_id, name in ((1, "/a.mp4"), (2, "/b.mp4")):
                conn.execute("INSERT INTO videos (id, path, content_hash, size, mtime, duration, width, height, "
                             "codec, sample_every, status, indexed_at) VALUES (?, ?, 'h', 1, 0, 5.0, 64, 48, "
                             "'h264', 0.5, 'ok', 1.0)", (video_id, name))
            for frame_id, video_id in ((1, 1), (2, 2), (3, 1), (4, 2)):  # interleaved ids
                conn.execute("INSERT INTO frames (id, video_id, time, pts, embedding) VALUES (?, ?, ?, ?, ?)",
                             (frame_id, video_id, frame_id * 0.5, frame_id, np.full(DIM, frame_id, "<f4").tobytes()))
            conn.execute("INSERT INTO segments (video_id, label, start, \"end\", score, source, updated_at) "
                         "VALUES (1, 'places/port', 0, 2, 0.9, 'auto', 1)")
        catalog.close()
    catalog = Catalog.open(path)
    with catalog.read() as conn:
        assert maintained(conn) == expected(conn)
        assert conn.execute("SELECT count(*) FROM frames WHERE sample_key = 0").fetchone()[0] == 0
        times = [r[0] for r in conn.execute("SELECT time FROM frames WHERE video_id = 1 ORDER BY id")]
    catalog.close()
    assert times == [0.5, 1.5]  # the frames themselves are unchanged


def test_the_union_of_several_labels_counts_overlaps_once(store: Store) -> None:
    write(store, "/v/a.mp4", 2, 1, [Segment("alcohol/wine", 0.0, 3.0, 0.9), Segment("tobacco", 2.0, 5.0, 0.9)])
    write(store, "/v/b.mp4", 2, 2, [Segment("tobacco", 1.0, 2.0, 0.9)])
    write(store, "/v/c.mp4", 2, 3, [Segment("places", 0.0, 9.0, 0.9)])
    assert store.labels_union(["alcohol", "tobacco"]) == (2, 5.0 + 1.0)


def test_the_first_and_last_paths_share_every_folder_all_paths_share(store: Store) -> None:
    assert store.video_path_bounds() == []
    for path in ("/media/ads/b/x.mp4", "/media/ads/b-c/y.mp4", "/media/ads/b/z.mp4", "/media/ads/a.mp4"):
        write(store, path, 1, 1)
    bounds = store.video_path_bounds()
    assert bounds == [Path("/media/ads/a.mp4"), Path("/media/ads/b/z.mp4")]
    parents = [str(v.path.parent) for v in store.list_videos()]
    assert os.path.commonpath([str(p.parent) for p in bounds]) == os.path.commonpath(parents) == "/media/ads"


def test_a_page_of_videos_reads_each_labels_screen_time_as_coverage_computes_it(store: Store) -> None:
    """The videos list shows each video's top labels from ``video_label_seconds`` (one read,
    no segments): the same seconds as coverage computed from the segments, after curator edits."""
    from indexer.store.coverage import label_tree, video_coverage

    curation.add_user(store, "ann", "long enough")
    taxonomy = load_taxonomy()
    a = write(store, "/v/a.mp4", 6, 1, [Segment("alcohol/wine", 0.0, 4.0, 0.9), Segment("alcohol", 3.0, 8.0, 0.9),
                                        Segment("places/port", 1.0, 2.0, 0.6)])
    b = write(store, "/v/b.mp4", 6, 2, [Segment("alcohol/beer", 1.0, 2.0, 0.9)])
    empty = write(store, "/v/c.mp4", 0, 3)
    wine = next(s for s in store.segments(a) if s.label == "alcohol/wine")
    curation.reject(store, wine.id, "ann")
    curation.add(store, b, "ann", "harbour crane", 0.5, 3.0, resolve=label_resolver(taxonomy, new_tag=True))
    got = store.video_label_seconds([a, b, empty])
    tree = label_tree(taxonomy.ids)
    for video in (a, b, empty):
        present = video_coverage(store.segments(video, include_rejected=True), tree)
        assert got[video] == pytest.approx({label: covered_seconds(p) for label, p in present.items()}, abs=1e-6)
    assert got[empty] == {} and "alcohol/wine" not in got[a] and got[b]["harbour crane"] == pytest.approx(2.5)
