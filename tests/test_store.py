"""Tests of indexer.store on a real SQLite file and a real FAISS index (tiny dim)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import indexer.store.facade as store_module
from indexer.store import curation
from indexer.errors import EncoderMismatchError, NotFoundError, StoreError
from indexer.labels.names import label_resolver
from indexer.labels.taxonomy import load_taxonomy
from indexer.store import NewVideo, Store
from indexer.types import Segment, ShotCut, Transition, VideoInfo
from indexer.store.vectors import VectorIndex

DIM = 16
ROOT = Path(__file__).resolve().parents[1]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def new_video(path: str, duration: float = 20.0, content: str = "abc") -> NewVideo:
    info = VideoInfo(Path(path), duration, Fraction(30000, 1001), 160, 120, 0, 0.0, "h264")
    return NewVideo(Path(path), content, 1234, 1.5, info, 0.5)


def write(store: Store, path: str, n: int, seed: int, segments=(), **kw) -> tuple[int, np.ndarray]:
    vectors = unit(np.random.default_rng(seed), n)
    times = np.arange(n) * 0.5
    video_id = store.write_video(new_video(path, **kw), times, (times * 30).astype(int), vectors,
                                 [ShotCut(2.0, 60, 0.9)], list(segments))
    return video_id, vectors


@pytest.fixture()
def store(tmp_path: Path):
    with Store.open(tmp_path / "data") as s:
        s.bind_encoder("fake-colour", DIM, {"kind": "fake"})
        yield s


def assert_consistent(store: Store) -> None:
    """Every frame row has its vector in FAISS and vice versa, with the stored embedding."""
    ids, vectors = [], []
    for video in store.list_videos():
        f_ids, _, f_vectors = store.frames(video.id)
        assert len(f_ids) == int(video.note or len(f_ids))  # a video is written whole or not at all
        ids += f_ids.tolist()
        vectors.append(f_vectors)
    assert store.vector_ids().tolist() == sorted(ids)
    if ids:
        found = store.search_vectors(np.vstack(vectors), 1)[1][:, 0]
        assert found.tolist() == ids


def test_write_and_read_round_trip(store: Store) -> None:
    segs = [Segment("red", 0.0, 4.0, 0.8, 0.25, 0.0), Segment("blue", 4.0, 9.5, 0.7)]
    video_id, vectors = write(store, "/videos/a.mp4", 20, seed=1, segments=segs)
    video = store.get_video(video_id)
    assert video.path == Path("/videos/a.mp4") and video.fps == Fraction(30000, 1001)
    assert (video.duration, video.size, video.sample_every, video.status) == (20.0, 1234, 0.5, "ok")
    assert store.video_by_path(Path("/videos/a.mp4")) == video
    assert store.videos_by_hash("abc") == [video]
    ids, times, stored = store.frames(video_id)
    assert np.array_equal(stored, vectors) and times.tolist() == [i * 0.5 for i in range(20)]
    assert store.cuts(video_id) == [2.0]
    assert [s.to_segment() for s in store.segments(video_id)] == segs
    assert store.frame_locations([ids[3], -1, 999_999]) == {int(ids[3]): (video_id, 1.5)}
    assert store.vector_count() == 20 and store.dim == DIM
    assert store.encoder_spec() == {"kind": "fake"}
    with pytest.raises(NotFoundError):
        store.get_video(999)


def test_transitions_and_cut_margins_round_trip_and_are_replaced(store: Store) -> None:
    times = np.arange(10) * 0.5
    dissolve = Transition("dissolve", 1.0, 1.8, 30, 54, 35.5)
    cut = ShotCut(3.0, 90, 25.0, margin=13.0)
    video_id = store.write_video(new_video("/videos/d.mp4"), times, (times * 30).astype(int),
                                 unit(np.random.default_rng(3), 10), [cut], [], transitions=[dissolve])
    assert store.transitions(video_id) == [dissolve]
    assert store.shot_cuts(video_id) == [cut]
    assert store.boundaries(video_id) == [(1.0, 1.8), (3.0, 3.0)]
    store.write_video(new_video("/videos/d.mp4"), times, (times * 30).astype(int),
                      unit(np.random.default_rng(4), 10), [], [])  # re-indexed: nothing found now
    assert store.transitions(video_id) == [] and store.boundaries(video_id) == []


def test_write_validates_input(store: Store, tmp_path: Path) -> None:
    times = np.arange(3) * 0.5
    with pytest.raises(ValueError):
        store.write_video(new_video("/x.mp4"), times, times[:2], unit(np.random.default_rng(0), 3), [], [])
    with pytest.raises(ValueError):
        store.write_video(new_video("/x.mp4"), times, times, unit(np.random.default_rng(0), 3), [],
                          [Segment("red", 0, 1, 1.0, source="curator")])
    with pytest.raises(ValueError):
        store.write_video(new_video("/x.mp4"), times, times, np.ones((3, DIM + 1), np.float32), [], [])
    with Store.open(tmp_path / "unbound") as unbound, pytest.raises(StoreError, match="bind_encoder"):
        unbound.write_video(new_video("/x.mp4"), times, times, np.ones((3, DIM), np.float32), [], [])
    assert store.list_videos() == []


def test_frame_ids_are_row_ids_after_deletes_and_rewrites(store: Store) -> None:
    a, _ = write(store, "/a.mp4", 10, seed=1)
    b, vb = write(store, "/b.mp4", 10, seed=2)
    store.delete_video(a)
    c, vc = write(store, "/c.mp4", 10, seed=3)
    b_again, vb2 = write(store, "/b.mp4", 12, seed=4)  # changed file: same video id, new frames
    assert b_again == b
    b_ids = store.frames(b)[0]
    c_ids = store.frames(c)[0]
    assert b_ids.min() > c_ids.max()  # AUTOINCREMENT: ids never reused
    assert store.vector_ids().tolist() == sorted(b_ids.tolist() + c_ids.tolist())
    assert store.search_vectors(vc[4], 1)[1][0, 0] == c_ids[4]
    assert store.search_vectors(vb2[7], 1)[1][0, 0] == b_ids[7]
    assert store.search_vectors(vb[0], 1)[0][0, 0] < 0.99  # old vectors of b are gone
    with pytest.raises(NotFoundError):
        store.delete_video(a)
    assert_consistent(store)


def test_rewrite_keeps_video_id_and_curator_segments(store: Store) -> None:
    curation.add_user(store, "cura", "secret-password")
    video_id, _ = write(store, "/a.mp4", 10, seed=1,
                        segments=[Segment("red", 0, 3, 0.8), Segment("blue", 5, 8, 0.6)])
    red, blue = store.segments(video_id)
    curation.accept(store, red.id, "cura")
    curation.reject(store, blue.id, "cura")
    added = curation.add(store, video_id, "cura", "beach", 1.0, 2.0, resolve=label_resolver(load_taxonomy()))
    new_auto = [Segment("red", 0.5, 2.5, 0.9), Segment("blue", 6, 7, 0.9),
                Segment("green", 2, 4, 0.5), Segment("red", 10, 12, 0.7)]
    assert write(store, "/a.mp4", 8, seed=2, segments=new_auto)[0] == video_id
    rows = store.segments(video_id, include_rejected=True)
    curator = {(s.id, s.label, s.status) for s in rows if s.source == "curator"}
    assert curator == {(red.id, "red", "active"), (blue.id, "blue", "rejected"),
                       (added.id, "beach", "active")}
    auto = sorted((s.label, s.start, s.end) for s in rows if s.source == "auto")
    assert auto == [("green", 2, 4), ("red", 10, 12)]  # overlapping red/blue suppressed
    assert store.cuts(video_id) == [2.0] and len(store.frames(video_id)[0]) == 8


def test_encoder_mismatch_is_refused(store: Store) -> None:
    store.bind_encoder("fake-colour", DIM, {"kind": "other spec"})  # same name/dim: fine
    with pytest.raises(EncoderMismatchError, match="built with encoder fake-colour .dim 16.*--data-dir") as err:
        store.bind_encoder("open_clip:ViT-B-32", 512, {})
    assert "not open_clip:ViT-B-32 (dim 512)" in str(err.value)  # both encoders named
    with pytest.raises(EncoderMismatchError):
        store.bind_encoder("fake-colour", 32, {})


def test_a_writer_saves_a_slow_index_less_often(tmp_path: Path) -> None:
    """A save rewrites the whole index: the next one waits SAVE_SPACING times as long as the
    last took, whatever the per-video setting."""
    with Store.open(tmp_path / "data", flush_every_videos=1, flush_every_seconds=1e9) as store:
        store.bind_encoder("fake-colour", DIM, {"kind": "fake"})
        write(store, "/a.mp4", 4, seed=1)
        saved = (store.data_dir / Store.VECTORS).stat().st_mtime_ns
        store._vectors._save_seconds = 3600.0  # as if the last save had taken an hour
        write(store, "/b.mp4", 4, seed=2)
        assert (store.data_dir / Store.VECTORS).stat().st_mtime_ns == saved
        store._vectors._save_seconds = 0.0
        write(store, "/c.mp4", 4, seed=3)
        assert (store.data_dir / Store.VECTORS).stat().st_mtime_ns != saved
    with Store.open(tmp_path / "data", readonly=True) as reader:
        assert reader.vector_count() == 12


def test_readonly_reader_follows_writer_and_never_writes(store: Store) -> None:
    write(store, "/a.mp4", 10, seed=1)
    store.flush()
    files = {p: p.stat().st_mtime_ns for p in store.data_dir.iterdir() if p.is_file()}
    with Store.open(store.data_dir, readonly=True) as reader:
        assert reader.vector_count() == 10
        assert reader.refresh() is False
        b, vb = write(store, "/b.mp4", 6, seed=2)  # committed, FAISS file not saved yet
        assert reader.refresh() is True
        assert reader.get_video(b).path == Path("/b.mp4")
        assert reader.search_vectors(vb[2], 1)[1][0, 0] == store.frames(b)[0][2]
        store.delete_video(1)
        store.flush()  # file replaced: the reader reloads it
        assert reader.refresh() is True
        assert reader.vector_ids().tolist() == store.vector_ids().tolist()
        for attempt in (lambda: reader.delete_video(b), lambda: write(reader, "/c.mp4", 3, seed=3),
                        lambda: reader.optimize(force=True)):
            with pytest.raises(StoreError, match="read-only"):
                attempt()
        with pytest.raises(StoreError):
            curation.add_user(reader, "someone", "long enough")
    assert (store.data_dir / "catalog.sqlite3").stat().st_mtime_ns >= files[store.data_dir / "catalog.sqlite3"]
    with pytest.raises(StoreError, match="no index"):
        Store.open(store.data_dir / "missing", readonly=True)


def test_second_writer_is_refused(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "WRITER_WAIT_SECONDS", 0.1)
    write(store, "/a.mp4", 5, seed=1)
    with Store.open(store.data_dir) as other:
        assert other.vector_count() == 5  # reading and curating are fine
        with pytest.raises(StoreError, match="another process is writing"):
            write(other, "/b.mp4", 5, seed=2)


@pytest.mark.parametrize("damage", ["missing-vectors", "extra-ids", "deleted-file", "truncated-file"])
def test_open_reconciles_a_damaged_vector_file(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    with Store.open(data) as s:
        s.bind_encoder("fake-colour", DIM, {})
        for i in range(4):
            write(s, f"/v{i}.mp4", 15, seed=i)
    path = data / "vectors.faiss"
    if damage in ("missing-vectors", "extra-ids"):
        index = VectorIndex.load(path, DIM)
        if damage == "missing-vectors":
            index.remove(index.ids()[5:25])
        else:
            index.add([10_000, 10_001], unit(np.random.default_rng(9), 2))
        index.save(path)
    elif damage == "deleted-file":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    with Store.open(data) as s:
        assert_consistent(s)
        assert s.vector_count() == 60
    assert VectorIndex.load(path, DIM).ids().tolist() == list(range(1, 61))  # repaired file saved


@pytest.mark.parametrize("bad_id", [2 ** 63, 2 ** 64 + 5, -(2 ** 63) - 1, 10 ** 40])
def test_ids_beyond_64_bits_are_not_found(store: Store, bad_id: int) -> None:
    write(store, "/v/a.mp4", 3, seed=1)
    with pytest.raises(NotFoundError, match="no video"):
        store.get_video(bad_id)
    with pytest.raises(NotFoundError, match="no segment"):
        store.get_segment(bad_id)
    assert store.cuts(bad_id) == [] and store.segments(bad_id) == [] and store.frame_times(bad_id) == []


def test_frame_times_match_the_frames(store: Store) -> None:
    vid, _ = write(store, "/t.mp4", 12, seed=5)
    _ids, times, _vectors = store.frames(vid)
    assert store.frame_times(vid) == times.tolist() and len(times) == 12


def test_search_restricted_to_videos(store: Store) -> None:
    _, va = write(store, "/a.mp4", 10, seed=1)
    b, _ = write(store, "/b.mp4", 10, seed=2)
    ids = store.search_vectors(va[:2], 5, video_ids=[b])[1]
    locations = store.frame_locations(ids.ravel().tolist())
    assert {v for v, _ in locations.values()} == {b}
    assert store.search_vectors(va[:1], 3, video_ids=[])[1].tolist() == [[-1, -1, -1]]
    with pytest.raises(ValueError):
        store.search_vectors(np.ones((1, DIM + 1), np.float32), 3)
    # the cached video -> frame ids table follows later writes and deletes
    c, vc = write(store, "/c.mp4", 10, seed=3)
    assert set(store.search_vectors(vc[:1], 20, video_ids=[c])[1][0].tolist()) - {-1} == set(store.frames(c)[0].tolist())
    store.delete_video(b)
    assert (store.search_vectors(va[:1], 5, video_ids=[b])[1] == -1).all()


def test_optimize_without_an_encoder_has_nothing_to_do(tmp_path: Path) -> None:
    with Store.open(tmp_path / "index") as store:  # e.g. only curator accounts so far
        assert store.optimize() == store.optimize(force=True) == store.index_info()
        assert (store.index_info().kind, store.index_info().vectors) == ("flat", 0)
    assert not (tmp_path / "index" / Store.VECTORS).exists()


def test_optimize_builds_ivf_with_frame_ids(store: Store) -> None:
    assert store.optimize().kind == "flat"  # below the threshold: nothing to do
    vectors = {}
    for i in range(30):
        vectors[write(store, f"/v{i:02d}.mp4", 100, seed=i)[0]] = None
    info = store.optimize(force=True)
    assert (info.kind, info.vectors) == ("ivf", 3000) and info.recall_at_10 >= 0.95
    assert store.optimize() == store.index_info()  # not grown since: nothing to do
    assert_consistent(store)
    with Store.open(store.data_dir, readonly=True) as reader:
        assert reader.index_info().kind == "ivf"
        c, vc = write(store, "/late.mp4", 10, seed=99)  # added to the IVF index
        reader.refresh()
        assert reader.search_vectors(vc[3], 1)[1][0, 0] == store.frames(c)[0][3]
        sub = reader.search_vectors(vc[3], 5, video_ids=[c])[1][0]  # exact path for few frames
        assert sub[0] == store.frames(c)[0][3] and set(sub) <= set(store.frames(c)[0].tolist())
    assert_consistent(store)


def test_threads_search_while_writing(store: Store) -> None:
    write(store, "/a.mp4", 20, seed=1)
    queries = unit(np.random.default_rng(5), 4)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                ids = store.search_vectors(queries, 3)[1]
                assert set(store.frame_locations(ids.ravel().tolist())) <= set(ids.ravel().tolist())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(10):
        write(store, f"/t{i}.mp4", 5, seed=10 + i)
    for t in threads:
        t.join()
    assert not errors
    assert_consistent(store)


WRITER_SCRIPT = """
import sys
from fractions import Fraction
from pathlib import Path
import numpy as np
from indexer.store import NewVideo, Store
from indexer.types import Segment, ShotCut, VideoInfo

data_dir, start, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with Store.open(data_dir, flush_every_videos=3, flush_every_seconds=0.05) as store:
    store.bind_encoder("fake-colour", 16, {})
    for i in range(start, start + count):
        rng = np.random.default_rng(i)
        n = int(rng.integers(5, 80))
        path = Path(f"/videos/v{i % 25:03d}.mp4")  # later rounds re-write earlier paths
        info = VideoInfo(path, n * 0.5, Fraction(25), 64, 48, 0, 0.0, "h264")
        vectors = rng.standard_normal((n, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        times = np.arange(n) * 0.5
        store.write_video(NewVideo(path, f"h{i}", n, 0.0, info, 0.5, note=str(n)), times,
                          np.arange(n), vectors, [ShotCut(1.0, 25, 0.5)],
                          [Segment("red", 0.0, n * 0.25, 0.9)])
        if i % 7 == 6:
            victim = store.video_by_path(Path(f"/videos/v{(i * 3) % 25:03d}.mp4"))
            if victim is not None:
                store.delete_video(victim.id)
        print(i, flush=True)
"""


def run_writer(script: Path, data: Path, start: int, count: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), str(data), str(start), str(count)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.mark.slow
def test_kill_9_while_writing_leaves_a_consistent_store(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    data = tmp_path / "data"
    rng = np.random.default_rng(1234)
    start, reader = 0, None
    for round_ in range(3):
        proc = run_writer(script, data, start, 100_000)
        wanted = int(rng.integers(5, 40))
        written = 0
        try:
            for line in proc.stdout:
                written += 1
                if reader is not None:  # a reader following the live writer sees whole videos only
                    reader.refresh()
                    with reader.catalog.read():  # one snapshot: the writer may re-write this path
                        video = reader.list_videos()[-1]
                        assert len(reader.frames(video.id)[0]) == int(video.note)
                if written >= wanted:
                    break
            time.sleep(float(rng.uniform(0, 0.03)))  # die somewhere inside the next write/flush
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, f"round {round_}: writer died on its own"
        with Store.open(data) as s:
            assert_consistent(s)
            assert s.list_videos()
        reader = reader or Store.open(data, readonly=True)
        reader.refresh()
        assert_consistent(reader)
        start += written + 1
    reader.close()
    proc = run_writer(script, data, start, 8)  # resuming completes the job
    assert len(proc.stdout.read().split()) == 8 and proc.wait(timeout=60) == 0
    proc.stdout.close()
    with Store.open(data) as s:
        assert_consistent(s)
        assert s.video_by_path(Path(f"/videos/v{(start + 7) % 25:03d}.mp4")) is not None
