"""Tests for indexer.pipeline.orchestrate (analyse + commit through Indexer): end-to-end indexing with the fake colour encoder.

Videos come from tests/media.py with exact cut times; the store is a real SQLite file and a
real FAISS index in tmp_path.
"""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.labels.classify import LabelModel
from indexer.pipeline.orchestrate import IndexOptions, Indexer, prune_missing
from indexer.labels.segments import make_report
from indexer.labels.names import label_resolver
from indexer.store import Store
from indexer.labels.taxonomy import parse_taxonomy
from media import COLOUR_TAXONOMY, Scene, make_video

@pytest.fixture()
def taxonomy(tmp_path: Path):
    return parse_taxonomy(COLOUR_TAXONOMY, tmp_path / "colours.toml")


@pytest.fixture()
def store(tmp_path: Path):
    with Store.open(tmp_path / "index") as s:
        yield s


def _indexer(store, encoder, taxonomy, **opts) -> Indexer:
    store.bind_encoder(encoder.name, encoder.dim, {"plugin": "indexer.models.colour:ColourEncoder"})
    return Indexer(store, encoder, LabelModel.build(taxonomy, encoder), IndexOptions(**opts))


def _segments(store, video_id: int, label: str):
    return [s.to_segment() for s in store.segments(video_id) if s.label == label]


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(25), Fraction(24000, 1001)])
def test_scene_times_match_truth_within_a_frame(tmp_path, store, colour_encoder, taxonomy, fps) -> None:
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 40), Scene("blue", 47), Scene("red", 31)], fps=fps)
    result = _indexer(store, colour_encoder, taxonomy).index_file(video.path)
    assert result.status == "indexed", result.reason
    frame = float(1 / fps)
    blue = _segments(store, result.video_id, "blue")
    assert len(blue) == 1
    _, truth_start, truth_end = video.scene_spans[1]
    assert abs(blue[0].start - truth_start) <= frame and abs(blue[0].end - truth_end) <= frame
    assert blue[0].start_uncertainty == 0 and blue[0].end_uncertainty == 0  # both at cuts
    red = make_report("red", _segments(store, result.video_id, "red"), store.get_video(result.video_id).duration)
    truth_red = sum(e - s for c, s, e in video.scene_spans if c == "red")
    assert red.first_appearance is not None and abs(red.first_appearance - 0.0) <= frame
    assert abs(red.total_duration - truth_red) <= 2 * frame
    assert store.cuts(result.video_id) == pytest.approx(list(video.cut_times), abs=frame)


def test_label_boundary_inside_a_dissolve(tmp_path, store, colour_encoder, taxonomy) -> None:
    from benchmarks.synthetic_edits import make_edited_clip
    from indexer.models.colour import COLOURS

    plan = [("shot", 50, {"rgb": COLOURS["red"]}), ("dissolve", 20), ("shot", 50, {"rgb": COLOURS["blue"]})]
    clip = make_edited_clip(tmp_path / "dissolve.mp4", plan, fps=Fraction(25))
    result = _indexer(store, colour_encoder, taxonomy).index_file(clip.path)
    first, last = clip.frame_times[50], clip.frame_times[69]  # the dissolve's first and last frame
    [transition] = store.transitions(result.video_id)
    assert (transition.kind, transition.start, transition.end) == ("dissolve", first, last)
    assert store.cuts(result.video_id) == []
    [red], [blue] = _segments(store, result.video_id, "red"), _segments(store, result.video_id, "blue")
    middle, half = (first + last) / 2, (last - first) / 2
    assert red.end == pytest.approx(middle) and red.end_uncertainty == pytest.approx(half)
    assert blue.start == pytest.approx(middle) and blue.start_uncertainty == pytest.approx(half)
    assert store.boundaries(result.video_id) == [(first, last)]


def test_variable_frame_rate(tmp_path, store, colour_encoder, taxonomy) -> None:
    rng = np.random.default_rng(3)
    durations = [Fraction(1, int(rng.choice([15, 24, 30, 60]))) for _ in range(110)]
    video = make_video(tmp_path / "vfr.mkv", [Scene("green", 50), Scene("blue", 60)], frame_durations=durations)
    result = _indexer(store, colour_encoder, taxonomy).index_file(video.path)
    blue = _segments(store, result.video_id, "blue")
    assert len(blue) == 1
    assert abs(blue[0].start - video.cut_times[0]) <= 0.002  # mkv stores milliseconds


def test_every_frame_row_has_its_vector(tmp_path, store, colour_encoder, taxonomy) -> None:
    video = make_video(tmp_path / "a.mp4", [Scene("red", 30), Scene("green", 30)])
    result = _indexer(store, colour_encoder, taxonomy).index_file(video.path)
    ids, times, vectors = store.frames(result.video_id)
    assert len(ids) == len(times) == len(vectors) == result.frames > 0
    assert set(store.vector_ids().tolist()) == set(ids.tolist())
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_unchanged_files_are_skipped_changed_reindexed_renamed_followed(tmp_path, store, colour_encoder,
                                                                          taxonomy) -> None:
    indexer = _indexer(store, colour_encoder, taxonomy)
    a = make_video(tmp_path / "a.mp4", [Scene("red", 30), Scene("blue", 30)])
    first = indexer.index_file(a.path)
    assert first.status == "indexed"
    assert indexer.index_file(a.path).status == "skipped"
    moved = tmp_path / "moved.mp4"
    shutil.move(a.path, moved)
    renamed = indexer.index_file(moved)
    assert (renamed.status, renamed.video_id) == ("renamed", first.video_id)
    assert store.get_video(first.video_id).path == moved.absolute()
    make_video(moved, [Scene("green", 30), Scene("blue", 30)])
    os.utime(moved, (1, 1))
    again = indexer.index_file(moved)
    assert (again.status, again.video_id) == ("reindexed", first.video_id)
    assert len(list(store.thumbs_dir.glob(f"{first.video_id}-*"))) == 1  # only the new version's
    assert _segments(store, first.video_id, "green") and not _segments(store, first.video_id, "red")
    assert store.vector_count() == again.frames


def test_bad_files_fail_one_line_and_batch_goes_on(tmp_path, store, colour_encoder, taxonomy) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    make_video(folder / "good.mp4", [Scene("red", 30)])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is not a video\n")
    (folder / "noise.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    results = {r.path.name: r for r in _indexer(store, colour_encoder, taxonomy).index_paths([folder, tmp_path / "missing"])}
    assert results["good.mp4"].status == "indexed"
    for name in ("empty.mp4", "notes.mp4", "noise.mkv", "missing"):
        assert results[name].status == "failed" and results[name].reason and "\n" not in results[name].reason
    assert [v.path.name for v in store.list_videos()] == ["good.mp4"]


def test_corrupt_middle_indexes_what_decodes(tmp_path, store, colour_encoder, taxonomy) -> None:
    video = make_video(tmp_path / "c.ts", [Scene("red", 60), Scene("blue", 60), Scene("green", 60)], fps=Fraction(25))
    data = bytearray(video.path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 6000] = np.random.default_rng(1).integers(0, 256, 6000, np.uint8).tobytes()
    video.path.write_bytes(bytes(data))
    result = _indexer(store, colour_encoder, taxonomy).index_file(video.path)
    assert result.status == "indexed" and result.partial and "lost" in result.reason
    record = store.get_video(result.video_id)
    assert record.status == "partial" and record.note
    assert _segments(store, result.video_id, "red") and _segments(store, result.video_id, "green")


def test_prune_forgets_deleted_files_only_when_asked(tmp_path, store, colour_encoder, taxonomy) -> None:
    indexer = _indexer(store, colour_encoder, taxonomy)
    a = make_video(tmp_path / "a.mp4", [Scene("red", 20)])
    b = make_video(tmp_path / "b.mp4", [Scene("blue", 20)])
    list(indexer.index_paths([tmp_path]))
    a.path.unlink()
    list(indexer.index_paths([tmp_path]))
    assert len(store.list_videos()) == 2
    gone = next(v for v in store.list_videos() if v.path == a.path.absolute())
    assert any((store.thumbs_dir).glob(f"{gone.id}-*/*.jpg"))
    assert prune_missing(store) == [a.path.absolute()]
    assert [v.path for v in store.list_videos()] == [b.path.absolute()]
    assert not any((store.thumbs_dir).glob(f"{gone.id}-*/*.jpg"))  # its thumbnails went too


def test_change_gate_encodes_each_shot_and_then_only_on_change(tmp_path, store, taxonomy) -> None:
    from indexer.models.colour import ColourEncoder

    class Counting(ColourEncoder):
        calls = 0

        def encode_images(self, images):
            Counting.calls += len(images)
            return super().encode_images(images)

    # two static-looking 5 s shots: sampled every 0.5 s, encoded at each shot start and every 4 s
    video = make_video(tmp_path / "s.mp4", [Scene("red", 150), Scene("blue", 150)], size=(320, 240))
    result = _indexer(store, Counting(), taxonomy).index_file(video.path)
    ids, times, _ = store.frames(result.video_id)
    assert Counting.calls == result.frames == len(ids) == 4
    assert times.tolist() == pytest.approx([0.0, 4.004, video.cut_times[0], video.cut_times[0] + 4.004], abs=1e-3)
    assert _segments(store, result.video_id, "blue")[0].start == pytest.approx(video.cut_times[0], abs=1e-3)
    Counting.calls = 0
    every = _indexer(store, Counting(), taxonomy, reencode_window=0).index_file(video.path)
    assert every.status == "skipped"  # unchanged file
    store.delete_video(result.video_id)
    every = _indexer(store, Counting(), taxonomy, reencode_window=0).index_file(video.path)
    assert Counting.calls == every.frames == 20  # every sampled frame (10 s / 0.5 s)


def test_curator_edits_survive_reindexing_a_changed_file(tmp_path, store, colour_encoder, taxonomy) -> None:
    from indexer.store import curation
    curation.add_user(store, "alice", "correct horse battery")
    indexer = _indexer(store, colour_encoder, taxonomy)
    path = make_video(tmp_path / "ad.mp4", [Scene("red", 45), Scene("blue", 45)]).path
    vid = indexer.index_file(path).video_id
    (red,) = [s for s in store.segments(vid) if s.label == "red"]
    (blue,) = [s for s in store.segments(vid) if s.label == "blue"]
    curation.reject(store, red.id, "alice")
    curation.accept(store, blue.id, "alice")
    tag = curation.add(store, vid, "alice", "logo on screen", 0.5, 1.0,
                         resolve=label_resolver(parse_taxonomy(COLOUR_TAXONOMY, Path("colours.toml"))))
    # the file changes (re-encoded, same scenes): the auto rows are rebuilt, curator rows stay
    make_video(path, [Scene("red", 45), Scene("blue", 45)], size=(200, 150))
    os.utime(path, (5, 5))
    assert indexer.index_file(path).status == "reindexed"
    active = {(s.label, s.source) for s in store.segments(vid)}
    assert ("red", "auto") not in active  # the rejected segment is not resurrected
    assert ("blue", "curator") in active and ("blue", "auto") not in active
    assert any(s.id == tag.id and s.label == "logo on screen" for s in store.segments(vid))
    rejected = [s for s in store.segments(vid, include_rejected=True) if s.status == "rejected"]
    assert [(s.label, s.source) for s in rejected] == [("red", "curator")]


def test_a_thumbnail_is_stored_for_every_frame(tmp_path, store, colour_encoder, taxonomy) -> None:
    from PIL import Image

    from indexer.models.colour import COLOURS
    from indexer.store.thumbnails import thumb_path

    video = make_video(tmp_path / "t.mp4", [Scene("red", 45), Scene("blue", 45)], size=(320, 180))
    result = _indexer(store, colour_encoder, taxonomy).index_file(video.path)
    record = store.get_video(result.video_id)
    _ids, times, _vectors = store.frames(result.video_id)
    for t in times:
        path = thumb_path(store.thumbs_dir, record.id, record.content_hash, int(round(t * 1000)), 320)
        with Image.open(path) as image:
            assert image.size == (320, 180)  # whole frame, display aspect
            typical = np.median(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)
        expected = "red" if t < video.cut_times[0] else "blue"
        assert np.abs(typical - COLOURS[expected]).max() < 40, (t, typical)



def _folder_of_ads(folder: Path, n: int) -> list[Path]:
    """``n`` short two-shot clips in ``folder``, named in the order discover yields them."""
    folder.mkdir(exist_ok=True)
    colours = ["red", "blue", "green", "yellow"]
    return [make_video(folder / f"ad{i:02d}.mp4", [Scene(colours[i % 4], 20), Scene(colours[(i + 1) % 4], 25)],
                       size=(160, 120)).path for i in range(n)]


def _contents(store) -> list:
    """Everything a store holds about its videos, comparable across two stores."""
    out = []
    for video in store.list_videos():
        _ids, times, vectors = store.frames(video.id)
        segments = sorted((s.label, s.start, s.end, s.source) for s in store.segments(video.id))
        out.append((video.id, video.path.name, video.duration, video.status, times.tolist(),
                    np.round(vectors, 6).tolist(), store.cuts(video.id), segments))
    return out


def test_overlapped_files_store_exactly_what_file_after_file_stores(tmp_path, colour_encoder, taxonomy) -> None:
    _folder_of_ads(tmp_path / "ads", 5)
    contents = []
    for in_flight in (1, 2):
        with Store.open(tmp_path / f"index{in_flight}") as store:
            indexer = _indexer(store, colour_encoder, taxonomy)
            indexer.files_in_flight = in_flight
            results = list(indexer.index_paths([tmp_path / "ads"]))
            assert [r.status for r in results] == ["indexed"] * 5
            contents.append(_contents(store))
    assert contents[0] == contents[1] and len(contents[0]) == 5


class _HeldFirstFile:
    """Colour encoder whose first file (all red at the start) waits until ``release`` is set, so
    the analyses after it overlap it; records which thread encoded."""

    def __init__(self, release) -> None:
        from indexer.models.colour import ColourEncoder

        self.inner = ColourEncoder()
        self.name, self.dim, self.image_size = self.inner.name, self.inner.dim, self.inner.image_size
        self.release, self.threads, self.held = release, set(), False

    def encode_images(self, images):
        import threading

        self.threads.add(threading.current_thread().name)
        if not self.held:
            self.held = self.release.wait(timeout=20)  # the next file started while this one encodes
        return self.inner.encode_images(images)

    def encode_texts(self, texts):
        return self.inner.encode_texts(texts)


def test_next_file_is_analysed_while_one_encodes_and_commits_keep_input_order(tmp_path, store, taxonomy) -> None:
    import threading

    from indexer.pipeline.analysis import Analyser

    paths = _folder_of_ads(tmp_path / "ads", 6)
    release, running, most, lock = threading.Event(), [0], [0], threading.Lock()
    analyse = Analyser.analyse

    def counted(self, path, digest):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == 2:
                release.set()
        try:
            return analyse(self, path, digest)
        finally:
            with lock:
                running[0] -= 1

    encoder = _HeldFirstFile(release)
    indexer = _indexer(store, encoder, taxonomy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Analyser, "analyse", counted)
        results = list(indexer.index_paths([tmp_path / "ads"]))
    assert encoder.held and most[0] == 2  # overlapped, never more than two files in flight
    assert [r.path for r in results] == [p.absolute() for p in paths]
    assert [r.video_id for r in results] == sorted(r.video_id for r in results)  # committed in input order
    assert [v.path for v in store.list_videos()] == [p.absolute() for p in paths]
    assert encoder.threads and "MainThread" not in encoder.threads


def test_a_file_failing_midway_fails_alone_in_its_place(tmp_path, store, taxonomy) -> None:
    from indexer.models.colour import COLOURS, ColourEncoder

    class BreaksOnGreen(ColourEncoder):
        def encode_images(self, images):
            means = np.asarray(images, np.float32).reshape(len(images), -1, 3).mean(axis=1)
            if (np.abs(means - COLOURS["green"]).max(axis=1) < 40).any():
                raise RuntimeError("encoder fell over")
            return super().encode_images(images)

    folder = tmp_path / "ads"
    folder.mkdir()
    make_video(folder / "a.mp4", [Scene("red", 30)], size=(160, 120))
    (folder / "b.mp4").write_text("not a video\n")
    make_video(folder / "c.mp4", [Scene("green", 30)], size=(160, 120))
    make_video(folder / "d.mp4", [Scene("blue", 30)], size=(160, 120))
    results = list(_indexer(store, BreaksOnGreen(), taxonomy).index_paths([folder]))
    assert [(r.path.name, r.status) for r in results] == [("a.mp4", "indexed"), ("b.mp4", "failed"),
                                                          ("c.mp4", "failed"), ("d.mp4", "indexed")]
    assert results[2].reason == "unexpected error: RuntimeError: encoder fell over"
    assert "\n" not in results[1].reason and results[1].reason
    assert [v.path.name for v in store.list_videos()] == ["a.mp4", "d.mp4"]


def test_one_file_in_flight_analyses_in_the_calling_thread(tmp_path, store, taxonomy) -> None:
    import threading

    _folder_of_ads(tmp_path / "ads", 3)
    release = threading.Event()
    release.set()
    encoder = _HeldFirstFile(release)
    indexer = _indexer(store, encoder, taxonomy)
    indexer.files_in_flight = 1
    assert [r.status for r in indexer.index_paths([tmp_path / "ads"])] == ["indexed"] * 3
    assert encoder.threads == {threading.current_thread().name}
    with pytest.raises(ValueError, match="files in flight"):
        Indexer(store, encoder, LabelModel.build(taxonomy, encoder), files_in_flight=0)


def test_overlapped_files_keep_their_extractors_apart(tmp_path, store, taxonomy, monkeypatch) -> None:
    """Each file's extractor (here in a background thread, as OCR runs) sees that file's frames only."""
    import threading

    from indexer.pipeline import extractors
    from indexer.pipeline.analysis import Analyser
    from indexer.pipeline.background import in_background

    class Frames:
        def start(self, info):
            self.path, self.times = info.path, []

        def frame(self, frame):
            self.times.append(frame.time)

        def finish(self):
            return self.path, tuple(self.times)

    from indexer.pipeline import orchestrate

    paths = _folder_of_ads(tmp_path / "ads", 4)
    release, seen = threading.Event(), {}
    analyse, commit = Analyser.analyse, orchestrate.commit

    def second_starts(self, path, digest):
        if path == paths[1].absolute():
            release.set()  # the first file's encoder may go on
        return analyse(self, path, digest)

    def noted(store, analysis):
        seen[analysis.video.path] = analysis.extracted["frames"]
        return commit(store, analysis)

    monkeypatch.setattr(Analyser, "analyse", second_starts)
    monkeypatch.setattr(orchestrate, "commit", noted)
    extractors.register("frames", in_background(Frames))
    try:
        encoder = _HeldFirstFile(release)
        results = list(_indexer(store, encoder, taxonomy).index_paths([tmp_path / "ads"]))
    finally:
        extractors.unregister("frames")
    assert encoder.held and [r.status for r in results] == ["indexed"] * 4
    for path in paths:
        owner, times = seen[path.absolute()]
        assert Path(owner) == path.absolute() and list(times) == sorted(times) and len(times) >= 2
