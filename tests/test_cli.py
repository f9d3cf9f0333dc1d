"""Tests for the indexer's CLI (index / report / labels), bad inputs and a kill -9 crash test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli.main import cli
from indexer.store import Store
from fresh import COLOUR_INDEX_SCRIPT, colour_clips, run_fresh, tiny_weights, wait_for_videos
from media import COLOUR_TAXONOMY, Scene, make_video

FAKE = ["--encoder", "indexer.models.colour:ColourEncoder"]
@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    tax = tmp_path / "colours.toml"
    tax.write_text(COLOUR_TAXONOMY)
    return {"REELSEARCH_DATA_DIR": str(tmp_path / "index"), "REELSEARCH_TAXONOMY": str(tax)}


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 44100
        for i in range(20):
            frame.pts = i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _bad_inputs(folder: Path) -> dict[str, Path]:
    """One of each kind of bad input the issue lists (but permissions: see test_frames)."""
    bad = {"zero-byte": folder / "empty.mp4", "random": folder / "noise.mp4",
           "text": folder / "readme.mp4", "truncated": folder / "cut.mp4",
           "audio-only": folder / "song.mp4", "still": folder / "poster.png"}
    bad["zero-byte"].write_bytes(b"")
    bad["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
    bad["text"].write_text("not a video at all\n" * 20)
    whole = make_video(folder / "whole.tmp.mp4", [Scene("red", 40)]).path
    bad["truncated"].write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    _audio_only(bad["audio-only"])
    Image.new("RGB", (64, 48), (200, 10, 10)).save(bad["still"])
    return bad


def test_index_batch_with_bad_inputs(tmp_path: Path, env) -> None:
    folder = tmp_path / "ads"
    folder.mkdir()
    good = make_video(folder / "good.mp4", [Scene("red", 45), Scene("blue", 45)])
    bad = _bad_inputs(folder)
    os.symlink(folder, folder / "loop")
    result = run(env, "index", str(folder), str(bad["still"]), str(tmp_path / "missing.mp4"), *FAKE)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for path in [*bad.values(), folder / "loop", tmp_path / "missing.mp4"]:
        mine = [line for line in lines if line.startswith(f"skipping {path}")]
        assert len(mine) == 1, (path, result.output)
    assert any(line.startswith(f"indexed {good.path}") and "red" in line for line in lines)
    assert "1 indexed" in lines[-1] and "8 failed" in lines[-1] and "x realtime" in lines[-1]
    with Store.open(Path(env["REELSEARCH_DATA_DIR"]), readonly=True) as store:
        assert [v.path.name for v in store.list_videos()] == ["good.mp4"]


def test_reindex_skips_unchanged_and_prune(tmp_path: Path, env) -> None:
    a = make_video(tmp_path / "a.mp4", [Scene("red", 30)])
    assert run(env, "index", str(tmp_path), *FAKE).exit_code == 0
    again = run(env, "index", str(tmp_path))  # encoder comes from the store
    assert again.exit_code == 0 and "1 unchanged" in again.output
    a.path.unlink()
    assert "pruned 1 video" in run(env, "index", "--prune").output


def test_report_and_labels(tmp_path: Path, env) -> None:
    video = make_video(tmp_path / "ad.mp4", [Scene("blue", 40), Scene("red", 50), Scene("blue", 20)],
                       fps=Fraction(25))
    # report on an unindexed file indexes it first
    text = run(env, "report", str(video.path), "--label", "red", *FAKE)
    assert text.exit_code == 0, text.output
    assert "contains:         yes" in text.output and "first appearance: 1.600 s (00:00:01.600)" in text.output
    data = json.loads(run(env, "report", str(video.path), "--label", "Red", "--json").output)
    assert data["kind"] == "category" and data["contains"] is True
    assert data["first_appearance"] == pytest.approx(1.6, abs=0.04)
    assert data["total_duration"] == pytest.approx(2.0, abs=0.08)
    assert data["segments"][0]["start_uncertainty"] == 0.0
    free = json.loads(run(env, "report", "1", "--label", "a blue car", "--json").output)
    assert free["kind"] == "prompt" and free["total_duration"] == pytest.approx(2.4, abs=0.08)
    none = run(env, "report", "1", "--label", "a giraffe")
    assert "contains:         no" in none.output
    labels = json.loads(run(env, "labels", str(video.path), "--json").output)
    assert [row["label"] for row in labels["labels"]] == ["blue", "red"]


def test_report_errors_are_one_line(tmp_path: Path, env) -> None:
    result = run(env, "report", str(tmp_path / "nope.mp4"), "--label", "red")
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "nope.mp4" in result.output
    assert run(env, "index", "--every", "0", str(tmp_path)).exit_code == 2


@pytest.mark.slow
def test_kill_9_during_indexing_leaves_a_consistent_store_and_resumes(tmp_path: Path, env) -> None:
    folder = colour_clips(tmp_path / "many", 14)
    script = tmp_path / "crash.py"
    script.write_text(COLOUR_INDEX_SCRIPT)
    data_dir = Path(env["REELSEARCH_DATA_DIR"])
    for stored_before_kill in (2, 6, 10):
        proc = subprocess.Popen([sys.executable, str(script), str(folder)], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_videos(data_dir, stored_before_kill, proc)
        time.sleep(0.03 * (stored_before_kill % 4))  # land at different points of the next file
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Store.open(data_dir) as store:  # opening reconciles FAISS with the catalog
            videos = store.list_videos()
            assert stored_before_kill <= len(videos) < 14  # killed mid-batch
            frame_ids = set()
            for video in videos:
                ids, times, vectors = store.frames(video.id)
                assert len(ids) == len(vectors) > 0
                frame_ids.update(ids.tolist())
            assert set(store.vector_ids().tolist()) == frame_ids
    result = run(env, "index", str(folder), *FAKE)
    assert result.exit_code == 0, result.output
    with Store.open(data_dir) as store:
        videos = store.list_videos()
        assert len(videos) == 14
        total = sum(len(store.frames(v.id)[0]) for v in videos)
        assert store.vector_count() == total


@pytest.mark.slow
def test_real_open_clip_code_path_with_a_tiny_random_model(tmp_path: Path, env) -> None:
    """Index, label and report through open_clip itself (tiny random weights: no download)."""
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30), Scene("blue", 30)])
    tiny = ["--encoder", "indexer.models.clip_encoder:OpenClipEncoder.tiny"]
    result = run(env, "index", str(video.path), *tiny)
    assert result.exit_code == 0, result.output
    assert "1 indexed" in result.output
    data = json.loads(run(env, "report", str(video.path), "--label", "a red scene", "--json").stdout)
    assert data["kind"] == "prompt" and 0.0 <= data["share"] <= 1.0
    with Store.open(Path(env["REELSEARCH_DATA_DIR"]), readonly=True) as store:
        assert store.encoder_spec()["model"] == "reelsearch-tiny"  # recorded as open_clip, reloadable
        (only,) = store.list_videos()
        ids, times, vectors = store.frames(only.id)
        assert vectors.shape[1] == 32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
        assert store.cuts(only.id) == pytest.approx([video.cut_times[0]], abs=1e-3)
        assert store.vector_count() == len(ids)


@pytest.mark.parametrize("args", [["report", "1", "--label", "red"], ["labels", "1"],
                                  ["report", "ad.mp4", "--label", "red"]])
def test_read_commands_in_another_folder_create_no_store_and_name_the_data_dir(tmp_path: Path, monkeypatch,
                                                                              args) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, env={"REELSEARCH_DATA_DIR": None, "REELSEARCH_TAXONOMY": None})
    assert result.exit_code == 1
    assert f"no index in {tmp_path / 'data' / 'index'}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("encoder", ["plugin", "default offline"])
def test_a_first_index_whose_encoder_cannot_load_leaves_no_store(tmp_path: Path, monkeypatch, encoder) -> None:
    make_video(tmp_path / "ad.mp4", [Scene("red", 30)])
    monkeypatch.chdir(tmp_path)
    if encoder == "plugin":
        args = ["--encoder", "reelsearch_no_such_module:Encoder"]
    else:  # the default open_clip model, no weights in the cache and the hub unreachable
        import huggingface_hub

        from indexer.models import weights as clip_weights

        monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
        monkeypatch.setattr(clip_weights, "_reachable", lambda url, timeout=3.0: False)
        args = []
    clean = {"REELSEARCH_DATA_DIR": None, "REELSEARCH_TAXONOMY": None, "REELSEARCH_WEIGHTS": None}
    result = CliRunner().invoke(cli, ["index", "ad.mp4", *args], env=clean)
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()
    # with a store already there, the same failure leaves it as it was
    assert run(clean, "index", "ad.mp4", *FAKE).exit_code == 0
    before = sorted(p.name for p in (tmp_path / "data" / "index").iterdir())
    result = CliRunner().invoke(cli, ["index", "ad.mp4", "--encoder", "reelsearch_no_such_module:Encoder"], env=clean)
    assert result.exit_code == 1 and "reelsearch_no_such_module" in result.output
    assert sorted(p.name for p in (tmp_path / "data" / "index").iterdir()) == before
    with Store.open(tmp_path / "data" / "index", readonly=True) as store:
        assert store.video_count() == 1


@pytest.mark.parametrize("args", [["report", "readme.mp4", "--label", "red"], ["labels", "readme.mp4"],
                                  ["report", "ad.mp4", "--label", "red", "--encoder", "reelsearch_no_such_module:E"],
                                  ["labels", "ad.mp4", "--encoder", "reelsearch_no_such_module:E"]])
def test_report_of_a_file_that_cannot_be_indexed_leaves_no_store(tmp_path: Path, monkeypatch, args) -> None:
    make_video(tmp_path / "ad.mp4", [Scene("red", 30)])
    (tmp_path / "readme.mp4").write_text("not a video\n")
    monkeypatch.chdir(tmp_path)
    clean = {"REELSEARCH_DATA_DIR": None, "REELSEARCH_TAXONOMY": None}
    result = CliRunner().invoke(cli, args, env=clean)
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1
    assert ("readme.mp4" in result.output) == ("readme.mp4" in args)
    assert not (tmp_path / "data").exists()
    # a file that can be indexed makes the store, as before
    assert run(clean, args[0], "ad.mp4", *args[2:4 if args[0] == "report" else 2], *FAKE).exit_code == 0
    assert Store.exists(tmp_path / "data" / "index")


@pytest.mark.parametrize("option", ["--prune", "--optimize"])
def test_prune_or_optimize_alone_needs_a_store_and_copes_with_one_without_vectors(tmp_path: Path, monkeypatch,
                                                                                   option) -> None:
    monkeypatch.chdir(tmp_path)
    clean = {"REELSEARCH_DATA_DIR": None, "REELSEARCH_TAXONOMY": None}
    result = CliRunner().invoke(cli, ["index", option], env=clean)
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: no index in {tmp_path / 'data' / 'index'}: run `reelsearch index "
                                     "PATH` first, or point --data-dir (REELSEARCH_DATA_DIR) at an existing index")
    assert not (tmp_path / "data").exists()
    with Store.open(tmp_path / "data" / "index"):  # a store with no encoder yet, as `user add` leaves one
        pass
    result = CliRunner().invoke(cli, ["index", option], env=clean)
    assert result.exit_code == 0, result.output
    assert result.output == ("pruned 0 video(s) whose files are gone\n" if option == "--prune"
                             else "vector index: exact (flat), 0 vectors\n")


def test_unknown_video_ids_name_the_data_dir(tmp_path: Path, env) -> None:
    make_video(tmp_path / "ad.mp4", [Scene("red", 30)])
    assert run(env, "index", str(tmp_path / "ad.mp4"), *FAKE).exit_code == 0
    for args in (["report", "7", "--label", "red"], ["labels", "7"], ["labels", "gone.mp4"]):
        result = run(env, *args)
        assert result.exit_code == 1 and env["REELSEARCH_DATA_DIR"] in result.output, result.output


RANDOM_WARNING = "with random weights (--pretrained ''): its labels and search results are meaningless"


@pytest.mark.slow
def test_random_weights_warn_once_whenever_the_index_is_built_or_queried(tmp_path: Path, env) -> None:
    import search.cli  # noqa: F401  (registers ``search``)

    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30), Scene("blue", 30)])
    built = run(env, "index", str(video.path), "--model", "reelsearch-tiny", "--pretrained", "")
    assert built.exit_code == 0, built.output
    for result in (built, run(env, "labels", "1"), run(env, "report", "1", "--label", "a red car"),
                   run(env, "search", "a red car")):
        assert result.stderr.count(RANDOM_WARNING) == 1, result.output
        assert RANDOM_WARNING not in result.stdout


def test_trained_or_plugin_encoders_do_not_warn(tmp_path: Path, env) -> None:
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30)])
    for result in (run(env, "index", str(video.path), *FAKE), run(env, "labels", "1")):
        assert result.exit_code == 0 and "warning" not in result.output


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floats(item)
    elif isinstance(value, list):
        for item in value:
            yield from _floats(item)


def test_json_times_are_rounded_to_the_microsecond(tmp_path: Path, env) -> None:
    """Sums and differences of 29.97 fps times (3.0029999999999992) never reach JSON output."""
    import search.cli  # noqa: F401  (registers ``search``)

    video = make_video(tmp_path / "ad.mp4", [Scene("red", 45), Scene("blue", 60), Scene("red", 45),
                                             Scene("blue", 30), Scene("red", 60)])
    assert run(env, "index", str(video.path), *FAKE).exit_code == 0
    documents = [json.loads(run(env, *args, "--json").stdout)
                 for args in (["report", "1", "--label", "red"], ["report", "1", "--label", "a red scene"],
                              ["labels", "1"])]
    documents += [json.loads(line) for line in run(env, "search", "red", "--json").stdout.splitlines()]
    floats = [f for document in documents for f in _floats(document)]
    assert len(floats) > 20
    assert [f for f in floats if f != round(f, 6)] == []


def test_help_names_every_environment_variable() -> None:
    for command in ("index", "report", "labels"):
        out = CliRunner().invoke(cli, [command, "--help"]).output
        assert "REELSEARCH_TAXONOMY" in out and "REELSEARCH_DATA_DIR" in out, command


def test_one_frame_is_singular(tmp_path: Path, env) -> None:
    video = make_video(tmp_path / "short.mp4", [Scene("red", 8)])
    result = run(env, "index", str(video.path), *FAKE)
    assert result.exit_code == 0, result.output
    assert ", 1 frame, " in result.output and "1 frames" not in result.output
    assert ", 1 vector, " in run(env, "index", "--optimize").output


def _cold(env: dict[str, str], *args: str) -> tuple[str, list[str]]:
    """Run ``reelsearch ARGS`` in a fresh process; its output and which heavy modules it imported."""
    script = (
        "import sys\n"
        "from indexer.cli.main import main\n"
        f"sys.argv = ['reelsearch', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('MODULES', *sorted(m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules))\n"
    )
    environ = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    output, _, modules = done.stdout.rpartition("MODULES")
    return output, modules.split()


@pytest.mark.slow
def test_commands_load_only_what_they_need(tmp_path: Path, env) -> None:
    """Stored answers need no model; a new text query needs torch and the text tower, not open_clip."""
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30), Scene("blue", 30)])
    model = ["--model", "reelsearch-tiny", "--weights", str(weights), "--precision", "fp32"]
    assert run(env, "index", str(video.path), *model).exit_code == 0
    _, loaded = run_fresh(env, "labels", str(video.path))
    assert loaded == []
    _, loaded = run_fresh(env, "report", str(video.path), "--label", "red")  # a category: stored segments
    assert loaded == []
    _, loaded = run_fresh(env, "index", str(video.path), *model)  # unchanged: nothing to embed
    assert loaded == []
    new, loaded = run_fresh(env, "search", "a dog on a red beach", "--min-score", "-1", "--json")
    assert loaded == ["torch"]  # the text tower alone
    again, loaded = run_fresh(env, "search", "a dog on a red beach", "--min-score", "-1", "--json")
    assert loaded == [] and again == new  # the stored query vector
    _, loaded = run_fresh(env, "report", str(video.path), "--label", "a dog on a red beach")
    assert loaded == []  # the same text, and the background prompts, are stored


@pytest.mark.slow
def test_pretrained_checkpoint_file_indexes_as_weights_and_new_queries_run_the_text_tower_alone(
        tmp_path: Path, env) -> None:
    """``--pretrained PATH`` (open_clip's way to pass a local checkpoint) is ``--weights PATH``."""
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30), Scene("blue", 30)])
    model = ["--model", "reelsearch-tiny", "--pretrained", str(weights), "--precision", "fp32"]
    result = run(env, "index", str(video.path), *model)
    assert result.exit_code == 0 and "1 indexed" in result.output and "random weights" not in result.output
    with Store.open(Path(env["REELSEARCH_DATA_DIR"]), readonly=True) as store:
        spec = store.encoder_spec()
    assert (spec["weights"], spec["pretrained"]) == (str(weights.resolve()), None)
    assert spec["text_tower"]["checkpoint"] == str(weights.resolve())
    _, loaded = run_fresh(env, "index", str(video.path), *model)  # unchanged, same options: no model
    assert loaded == []
    _, loaded = run_fresh(env, "search", "a dog on a red beach", "--min-score", "-1")
    assert loaded == ["torch"]  # the text tower alone, from the checkpoint's text weights


def test_index_with_ray_commits_here_and_prints_per_worker_throughput(tmp_path: Path, env, ray_session) -> None:
    folder = tmp_path / "ads"
    folder.mkdir()
    make_video(folder / "a.mp4", [Scene("red", 30), Scene("blue", 30)])
    make_video(folder / "b.mp4", [Scene("green", 45)])
    result = run(env, "index", str(folder), *FAKE, "--ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "done: 2 indexed, 0 unchanged, 0 renamed, 0 failed" in result.output
    workers = [line for line in result.output.splitlines() if line.startswith("  worker ")]
    assert workers and all("x realtime)" in line for line in workers)
    again = run(env, "index", "--ray", str(folder), *FAKE)  # an existing path after --ray is a path
    assert "done: 0 indexed, 2 unchanged" in again.output
    again = run(env, "index", str(folder), "--ray=auto", *FAKE)  # joins the running session
    assert "done: 0 indexed, 2 unchanged" in again.output


def test_ray_option_without_ray_installed_says_how_to_get_it(tmp_path: Path, env, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    make_video(tmp_path / "a.mp4", [Scene("red", 10)])
    result = run(env, "index", str(tmp_path / "a.mp4"), *FAKE, "--ray")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: distributed work needs Ray: pip install 'reelsearch[ray]'"


def test_overlap_is_on_by_default_and_off_with_the_option_or_env(tmp_path: Path, env, monkeypatch) -> None:
    from indexer.pipeline import orchestrate

    seen = []
    init = orchestrate.Indexer.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(self.files_in_flight)

    monkeypatch.setattr(orchestrate.Indexer, "__init__", recording)
    for i, extra in enumerate(([], ["--no-overlap"], [])):
        make_video(tmp_path / f"v{i}.mp4", [Scene("red", 20)])
        run_env = {**env, "REELSEARCH_OVERLAP": "0"} if i == 2 else env
        result = run(run_env, "index", str(tmp_path / f"v{i}.mp4"), *FAKE, *extra)
        assert result.exit_code == 0 and "1 indexed" in result.output, result.output
    assert seen == [orchestrate.FILES_IN_FLIGHT, 1, 1] and orchestrate.FILES_IN_FLIGHT == 2
