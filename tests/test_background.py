"""Tests for indexer.pipeline.background: an extractor's frames run in a worker thread, in order;
its errors surface in the analysis' thread; a failed analysis stops the worker."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import MediaError
from indexer.labels.classify import LabelModel
from indexer.labels.taxonomy import parse_taxonomy
from indexer.media.probe import probe
from indexer.models.colour import ColourEncoder
from indexer.pipeline import extractors
from indexer.pipeline.analysis import analyse_file
from indexer.pipeline.background import BackgroundExtractor, in_background
from indexer.types import SampledFrame, VideoInfo
from media import COLOUR_TAXONOMY, Scene, make_video


class Recorder:
    """Records the frames' times and the thread that saw them; fails on a frame at ``fail_at``."""

    picture_width = 320

    def __init__(self, fail_at: float | None = None, gate: threading.Event | None = None) -> None:
        self.times, self.threads, self.closed = [], set(), False
        self.fail_at, self.gate = fail_at, gate

    def start(self, info: VideoInfo) -> None:
        self.info = info

    def frame(self, frame: SampledFrame) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if frame.time == self.fail_at:
            raise RuntimeError("model crashed")
        self.times.append(frame.time)
        self.threads.add(threading.current_thread().name)

    def finish(self) -> list[float]:
        return list(self.times)


def _frame(t: float) -> SampledFrame:
    return SampledFrame(t, int(t * 10), np.zeros((4, 4, 3), np.uint8))


@pytest.fixture()
def info(tmp_path: Path) -> VideoInfo:
    return probe(make_video(tmp_path / "v.mp4", [Scene("red", 5)]).path)


def test_frames_run_in_order_in_a_worker_and_finish_waits_for_them(info):
    inner = Recorder()
    wrapped = BackgroundExtractor(inner)
    assert wrapped.picture_width == 320
    wrapped.start(info)
    for i in range(40):  # more than the queue holds
        wrapped.frame(_frame(i / 2))
    assert wrapped.finish() == [i / 2 for i in range(40)]
    assert inner.threads == {"reelsearch-extractor"}


def test_an_error_in_the_worker_is_raised_in_the_callers_thread(info):
    wrapped = BackgroundExtractor(Recorder(fail_at=1.0))
    wrapped.start(info)
    with pytest.raises(RuntimeError, match="model crashed"):
        for i in range(40):
            wrapped.frame(_frame(i / 2))
        wrapped.finish()
    wrapped.close()
    assert not wrapped._thread.is_alive()


def test_close_drops_what_is_queued_and_stops_the_worker(info):
    release = threading.Event()
    inner = Recorder(gate=release)
    wrapped = BackgroundExtractor(inner)
    wrapped.start(info)
    for i in range(5):
        wrapped.frame(_frame(i / 2))  # the worker may hold the first; the others wait in the queue
    threading.Timer(0.5, release.set).start()  # a frame in progress ends after close() was called
    wrapped.close()
    assert not wrapped._thread.is_alive() and inner.times in ([], [0.0])  # at most the one begun


def test_a_failed_analysis_closes_its_extractors(tmp_path):
    made = []

    def factory():
        made.append(BackgroundExtractor(Recorder()))
        return made[-1]

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    encoder = ColourEncoder()
    labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp_path / "colours.toml"), encoder)
    extractors.register("recorder", factory)
    try:
        with pytest.raises(MediaError):
            analyse_file(not_video, encoder, labels)
        (wrapped,) = made
        assert wrapped._abandoned
        video = make_video(tmp_path / "ad.mp4", [Scene("red", 20), Scene("blue", 20)]).path
        analysis = analyse_file(video, encoder, labels)  # and a good file through the wrapper
        seen = analysis.extracted["recorder"]  # every sampled frame, also those the change gate skipped
        assert seen == sorted(seen) and set(analysis.times.tolist()) <= set(seen)
    finally:
        extractors.unregister("recorder")
    assert in_background(Recorder)().inner.__class__ is Recorder
