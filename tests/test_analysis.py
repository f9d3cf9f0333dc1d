"""Tests for indexer.pipeline.analysis, extractors and commit: the pure step runs without a store
(in a spawned worker process too), its pickled result commits in the parent exactly like the
normal path, and a registered extractor's output reaches the Analysis."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from indexer.labels.classify import LabelModel
from indexer.labels.taxonomy import parse_taxonomy
from indexer.models.colour import ColourEncoder
from indexer.pipeline import extractors
from indexer.pipeline.analysis import Analysis, IndexOptions, analyse_file
from indexer.pipeline.commit import commit
from indexer.pipeline.orchestrate import Indexer
from indexer.store import Store
from indexer.types import SampledFrame, VideoInfo
from media import COLOUR_TAXONOMY, Scene, make_video

PLUGIN = {"plugin": "indexer.models.colour:ColourEncoder"}


@pytest.fixture()
def setup(tmp_path: Path):
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 40), Scene("blue", 47), Scene("red", 31)])
    encoder = ColourEncoder()
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp_path / "colours.toml"), encoder)
    return video.path, encoder, labels


def _stored(store: Store, video_id: int) -> dict:
    """Everything the store holds about a video, in comparable form (the id aside)."""
    record = store.get_video(video_id)
    _ids, times, vectors = store.frames(video_id)
    thumbs = sorted(p.name for p in store.thumbs_dir.glob(f"{video_id}-*/*.jpg"))
    return {"path": record.path, "hash": record.content_hash, "duration": record.duration,
            "status": record.status, "note": record.note, "sample_every": record.sample_every,
            "times": times.tolist(), "vectors": vectors.tolist(), "cuts": store.cuts(video_id),
            "segments": [s.to_segment() for s in store.segments(video_id)], "thumbnails": thumbs}


def test_analysis_in_a_spawned_worker_commits_like_the_normal_path(tmp_path: Path, setup) -> None:
    path, encoder, labels = setup
    with Store.open(tmp_path / "normal") as store:
        store.bind_encoder(encoder.name, encoder.dim, PLUGIN)
        normal = _stored(store, Indexer(store, encoder, labels, IndexOptions()).index_file(path).video_id)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        analysis = pool.submit(analyse_file, path, encoder, labels, IndexOptions()).result(timeout=300)
    assert isinstance(analysis, Analysis) and len(analysis.times) > 0
    with Store.open(tmp_path / "worker") as store:
        store.bind_encoder(encoder.name, encoder.dim, PLUGIN)
        worker = _stored(store, commit(store, analysis))
    assert worker == normal
    assert normal["thumbnails"] and len(normal["segments"]) >= 3


def test_an_analysis_survives_pickling(setup) -> None:
    path, encoder, labels = setup
    analysis = analyse_file(path, encoder, labels, IndexOptions(thumb_width=0))
    again = pickle.loads(pickle.dumps(analysis))
    assert again.video == analysis.video and again.cuts == analysis.cuts and again.segments == analysis.segments
    assert np.array_equal(again.vectors, analysis.vectors) and np.array_equal(again.times, analysis.times)
    assert again.thumbnails == () and again.thumb_width == 0


class ShotCounter:
    """A toy per-frame extractor: how many sampled frames, and how many start a shot."""

    def start(self, info: VideoInfo) -> None:
        self.path, self.frames, self.shots = info.path, 0, 0

    def frame(self, frame: SampledFrame) -> None:
        self.frames += 1
        self.shots += frame.shot_start

    def finish(self) -> dict:
        return {"path": self.path.name, "frames": self.frames, "shots": self.shots}


def test_a_registered_extractor_reaches_the_analysis(setup) -> None:
    path, encoder, labels = setup
    extractors.register("shots", ShotCounter)
    try:
        with pytest.raises(ValueError, match="must be new"):
            extractors.register("shots", ShotCounter)
        analysis = analyse_file(path, encoder, labels)
    finally:
        extractors.unregister("shots")
    assert analysis.extracted["shots"] == {"path": "ad.mp4", "frames": len(analysis.times),
                                           "shots": len(analysis.cuts)}  # the frame after each cut
    assert "shots" not in analyse_file(path, encoder, labels).extracted


def test_analysis_rejects_frames_and_vectors_of_different_lengths(setup) -> None:
    path, encoder, labels = setup
    analysis = analyse_file(path, encoder, labels, IndexOptions(thumb_width=0))
    with pytest.raises(ValueError, match="differ in length"):
        Analysis(analysis.video, analysis.times, analysis.pts, analysis.vectors[:-1], analysis.cuts, analysis.segments)
