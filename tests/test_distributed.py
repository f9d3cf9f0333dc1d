"""Indexing on a real local Ray cluster (``ray.init(num_cpus=2)``): the same store as
single-process indexing, skipping before shipping, a worker or the driver killed mid-run,
unreadable paths, each worker's share of the CPUs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import ClusterError
from indexer.labels.classify import LabelModel
from indexer.labels.taxonomy import parse_taxonomy
from indexer.models.colour import ColourEncoder
from indexer.models.loading import encoder_spec
from indexer.pipeline.distributed import RayIndexer
from indexer.pipeline.orchestrate import IndexOptions, Indexer
from indexer.store import Store
from media import COLOUR_TAXONOMY, Scene, make_video

OPTIONS = IndexOptions(every=0.5, thumb_width=64)
FAKE = ["--encoder", "indexer.models.colour:ColourEncoder"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Five generated clips of different lengths and colours, and one file that is not a video."""
    folder = tmp_path_factory.mktemp("videos")
    colours = ["red", "blue", "green", "yellow", "magenta"]
    for i, colour in enumerate(colours):
        scenes = [Scene(colour, 20 + 15 * i), Scene(colours[(i + 1) % 5], 25), Scene("white", 10 + 5 * i)]
        make_video(folder / f"clip{i}.mp4", scenes)
    (folder / "notes.mp4").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> LabelModel:
    taxonomy = parse_taxonomy(COLOUR_TAXONOMY, tmp_path_factory.mktemp("tax") / "colours.toml")
    return LabelModel.build(taxonomy, ColourEncoder())


def _store(path: Path) -> Store:
    store = Store.open(path)
    encoder = ColourEncoder()
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    return store


def _contents(store: Store) -> dict:
    """Everything indexing stores, keyed by path (ids and times of indexing left out)."""
    out = {}
    for video in store.list_videos():
        _ids, times, vectors = store.frames(video.id)
        record = {k: v for k, v in video.__dict__.items() if k not in ("id", "indexed_at")}
        segments = [(s.label, s.start, s.end, s.score, s.start_uncertainty, s.end_uncertainty, s.source, s.status)
                    for s in store.segments(video.id, include_rejected=True)]
        out[str(video.path)] = (record, times.tolist(), vectors.tobytes(), store.cuts(video.id), sorted(segments))
    return out


def test_ray_indexing_stores_exactly_what_single_process_indexing_stores(tmp_path, videos, labels, ray_session):
    with _store(tmp_path / "single") as single, _store(tmp_path / "ray") as distributed:
        local = sorted((str(r.path), r.status, r.reason) for r in
                       Indexer(single, ColourEncoder(), labels, OPTIONS).index_paths([videos]))
        indexer = RayIndexer(distributed, ColourEncoder(), labels, OPTIONS, workers=2)
        remote = sorted((str(r.path), r.status, r.reason) for r in indexer.index_paths([videos]))
        assert remote == local
        assert [status for _path, status, _reason in remote].count("indexed") == 5
        assert _contents(distributed) == _contents(single)
        assert len(_contents(single)) == 5
        assert single.vector_count() == distributed.vector_count() > 0
        query = ColourEncoder().encode_texts(["blue"])
        assert np.array_equal(single.search_vectors(query, 5)[0], distributed.search_vectors(query, 5)[0])
        assert sum(s.files for s in indexer.stats.values()) == 5 and len(indexer.stats) == 2
        assert all(s.speed > 0 for s in indexer.stats.values())


def test_unchanged_files_are_skipped_before_anything_is_shipped(tmp_path, videos, labels, ray_session):
    with _store(tmp_path / "index") as store:
        list(RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=1).index_paths([videos]))
        again = RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=1)
        statuses = sorted(r.status for r in again.index_paths([videos]))
        assert statuses == ["failed"] + ["skipped"] * 5  # the non-video is shipped, and fails, again
        clips = sorted(videos.glob("clip*.mp4"))
        only_clips = RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=1)
        assert {r.status for r in only_clips.index_paths(clips)} == {"skipped"}
        assert only_clips.stats == {}  # no worker was started, nothing shipped


def test_a_worker_killed_mid_run_is_replaced_and_a_rerun_completes(tmp_path, videos, labels, ray_session):
    with _store(tmp_path / "index") as store:
        indexer = RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=2, per_worker=1)
        results = indexer.index_paths([videos])
        seen = []  # answers come as workers finish: the non-video's may come before or after
        for result in results:
            seen.append(result)
            if result.status == "indexed":
                break
        victim = next(iter(indexer.stats))  # host:pid of the worker that analysed the first file
        os.kill(int(victim.rsplit(":", 1)[1]), signal.SIGKILL)
        seen += list(results)  # Ray restarts the actor and retries its file
        assert sorted(r.status for r in seen) == ["failed"] + ["indexed"] * 5
        assert [r.path.name for r in seen if r.failed] == ["notes.mp4"]
        rerun = list(RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=2).index_paths([videos]))
        assert sorted(r.status for r in rerun) == ["failed"] + ["skipped"] * 5
        assert store.video_count() == 5
        assert [r.reason for r in rerun if r.failed] == ["not a media file (it contains text)"]


def test_paths_workers_cannot_read_are_a_clear_error(tmp_path, labels, ray_session):
    with _store(tmp_path / "index") as store:
        indexer = RayIndexer(store, ColourEncoder(), labels, OPTIONS, workers=1)
        pool = indexer._start_pool(ray_session)
        try:
            with pytest.raises(ClusterError, match="not readable on Ray worker .*same path"):
                indexer._check_readable(ray_session, pool, tmp_path / "only-on-the-driver.mp4")
        finally:
            for actor in pool:
                ray_session.kill(actor)


@pytest.mark.parametrize("workers, threads", [(1, 2), (2, 1)])
def test_each_worker_computes_with_its_share_of_the_cluster_cpus(tmp_path, videos, ray_session, workers, threads):
    from indexer.models.clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder.tiny()
    with Store.open(tmp_path / "index") as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        tiny_labels = LabelModel.build(parse_taxonomy(COLOUR_TAXONOMY, tmp_path / "colours.toml"), encoder)
        indexer = RayIndexer(store, encoder, tiny_labels, OPTIONS, workers=workers)
        clips = sorted(videos.glob("clip*.mp4"))
        assert [r.status for r in indexer.index_paths(clips)] == ["indexed"] * 5
        assert len(indexer.stats) == workers
        assert {s.threads for s in indexer.stats.values()} == {threads}  # 2 CPUs shared out


@pytest.mark.slow
def test_driver_killed_mid_run_leaves_a_consistent_store_and_a_rerun_resumes(tmp_path, labels, ray_session):
    import subprocess
    import sys

    from click.testing import CliRunner

    from fresh import COLOUR_INDEX_SCRIPT, colour_clips, wait_for_videos
    from indexer.cli.main import cli
    from media import COLOUR_TAXONOMY as TAXONOMY

    folder = colour_clips(tmp_path / "archive", 12)
    (tmp_path / "colours.toml").write_text(TAXONOMY)
    env = {"REELSEARCH_TAXONOMY": str(tmp_path / "colours.toml"), "REELSEARCH_DATA_DIR": str(tmp_path / "ray")}
    script = tmp_path / "index.py"
    script.write_text(COLOUR_INDEX_SCRIPT)
    driver = subprocess.Popen([sys.executable, str(script), str(folder), "--ray", "--workers", "2"],
                              env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_videos(tmp_path / "ray", 2, driver)
    driver.send_signal(signal.SIGKILL)  # the driver: the single writer, holding answers in flight
    driver.wait()
    with Store.open(tmp_path / "ray") as store:  # opening reconciles the FAISS file with the catalog
        videos = store.list_videos()
        assert 2 <= len(videos) < 12
        frame_ids = set()
        for video in videos:
            ids, _times, vectors = store.frames(video.id)
            assert len(ids) == len(vectors) > 0 and video.status == "ok"
            frame_ids.update(ids.tolist())
        assert set(store.vector_ids().tolist()) == frame_ids  # index and catalog agree
        before = len(videos)
    runner = CliRunner()
    rerun = runner.invoke(cli, ["index", str(folder), "--ray", "--workers", "2", *FAKE], env=env,
                          catch_exceptions=False)
    assert rerun.exit_code == 0, rerun.output
    assert f"done: {12 - before} indexed, {before} unchanged, 0 renamed, 0 failed" in rerun.output
    single = runner.invoke(cli, ["index", str(folder), *FAKE], env={**env, "REELSEARCH_DATA_DIR": str(tmp_path / "one")},
                           catch_exceptions=False)
    assert single.exit_code == 0, single.output
    with Store.open(tmp_path / "ray") as resumed, Store.open(tmp_path / "one") as reference:
        assert len(_contents(reference)) == 12
        assert _contents(resumed) == _contents(reference)
        assert resumed.vector_count() == reference.vector_count()


def test_files_overlapping_in_an_actor_take_turns_at_the_encoder(videos, labels):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from indexer.pipeline.distributed import AnalysisWorker

    class Slow(ColourEncoder):
        active = most = calls = 0

        def encode_images(self, images):
            Slow.active += 1
            Slow.calls += 1
            Slow.most = max(Slow.most, Slow.active)
            time.sleep(0.02)
            Slow.active -= 1
            return super().encode_images(images)

    worker = AnalysisWorker(encoder_spec(ColourEncoder()), labels, IndexOptions(every=0.5, batch_size=2))
    worker.analyser.encoder = Slow()  # the actor's one analyser, as its threads share it
    clips = sorted(str(p) for p in videos.glob("clip*.mp4"))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda path: worker.analyse(path, path), clips * 2))
    assert all(a.analysis is not None for a in answers), [a.reason for a in answers]
    assert Slow.calls > len(answers) and Slow.most == 1


def test_rays_notice_that_token_authentication_is_on_is_dropped_its_warning_when_off_is_not(ray_session, caplog):
    import logging

    from indexer.pipeline.cluster import _AUTH_LOGGER

    ray_logger = logging.getLogger(_AUTH_LOGGER)
    with caplog.at_level(logging.WARNING, logger=_AUTH_LOGGER):
        ray_logger.warning("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled ...")
        ray_logger.warning("Token authentication is disabled for this Ray cluster. Anyone with network access ...")
    assert [r.getMessage().split(".")[0] for r in caplog.records] == [
        "Token authentication is disabled for this Ray cluster"]
