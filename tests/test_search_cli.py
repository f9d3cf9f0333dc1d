"""``reelsearch search`` through click's CliRunner on an index built with the fake colour encoder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from media import Scene, make_video

from indexer.labels.classify import LabelModel
from indexer.cli.main import cli
from indexer.models.loading import load_plugin
from indexer.pipeline.orchestrate import Indexer, IndexOptions
from indexer.store import Store
from indexer.labels.taxonomy import load_taxonomy

ENCODER = "indexer.models.colour:ColourEncoder"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    make_video(folder / "a.mp4", [Scene("red", 90), Scene("blue", 60), Scene("green", 90)])
    make_video(folder / "b.mp4", [Scene("blue", 60), Scene("red", 45)])
    data = tmp_path_factory.mktemp("index")
    encoder = load_plugin(ENCODER)
    from indexer.models.loading import encoder_spec

    with Store.open(data) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        labels = LabelModel.build(load_taxonomy(), encoder)
        assert all(not r.failed for r in Indexer(store, encoder, labels, IndexOptions()).index_paths([folder]))
    data.joinpath("videos").symlink_to(folder)  # lets tests name the indexed files
    return data


def _run(data_dir, *args):
    return CliRunner().invoke(cli, ["search", "--data-dir", str(data_dir), *args])


def test_table_shows_videos_scenes_scores_and_labels(data_dir):
    result = _run(data_dir, "red")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["#", "VIDEO", "SCENE", "SCORE", "LABELS"]
    a_row = next(line for line in lines if "a.mp4" in line)
    assert "00:00:00.000-00:00:03.003" in a_row
    assert any("b.mp4" in line and "00:00:02.002-00:00:03.504" in line for line in lines)


def test_json_lines_and_deep_links(data_dir):
    result = _run(data_dir, "red", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2]
    scene = next(r for r in rows if r["path"].endswith("a.mp4"))["scenes"][0]
    assert scene["start_hms"] == "00:00:00.000" and scene["link"].endswith("a.mp4#t=0.000,3.003")
    linked = _run(data_dir, "red", "--open")
    assert "a.mp4#t=0.000,3.003" in linked.output


def test_no_match_says_so_and_exits_zero(data_dir):
    result = _run(data_dir, "giraffe")
    assert result.exit_code == 0
    assert result.stdout == "" and "no scene matches 'giraffe'" in result.stderr
    assert "--min-score 0.00 to list the closest frames anyway" in result.stderr


def test_like_image_negatives_and_filters(data_dir, tmp_path):
    from PIL import Image

    b_path = (data_dir / "videos" / "b.mp4").resolve()
    like = _run(data_dir, "--like", f"{b_path}@0.2", "--json")
    assert like.exit_code == 0, like.output
    assert like.stdout == _run(data_dir, "--like", "2@0.2", "--json").stdout  # by path or by id
    assert {json.loads(line)["path"].rsplit("/", 1)[1] for line in like.stdout.splitlines()} == {"a.mp4", "b.mp4"}
    image = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (220, 30, 30)).save(image)
    assert "a.mp4" in _run(data_dir, "--image", str(image)).output
    only_b = _run(data_dir, "red", "--video", "2", "--json")
    assert [json.loads(line)["video_id"] for line in only_b.stdout.splitlines()] == [2]
    no_red = _run(data_dir, "red + blue", "--not", "red", "--json")
    for line in no_red.stdout.splitlines():
        assert all(s["start"] >= 0 and s["end"] - s["start"] < 2.1 for s in json.loads(line)["scenes"])


@pytest.mark.parametrize("args, fragment", [
    ([""], "empty"),
    (['"red'], "unbalanced quote"),
    (["red", "--category", "spaceships"], "unknown category"),
    (["red", "--video", "999"], "999"),
    (["--like", "999@1"], "999"),
    (["--like", "nonsense"], "VIDEO@SECONDS"),
    (["--image", "/no/such/image.png"], "image.png"),
    (["red", "--min-duration", "10", "--max-duration", "5"], "max duration"),
])
def test_errors_are_one_line(data_dir, args, fragment):
    result = _run(data_dir, *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and fragment in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_usage_errors(data_dir, tmp_path):
    assert _run(data_dir).exit_code == 2
    assert _run(data_dir, "red", "--like", "1@1").exit_code == 2
    assert _run(data_dir, "--like", "1@1", "--not", "x").exit_code == 2
    missing = CliRunner().invoke(cli, ["search", "--data-dir", str(tmp_path / "none"), "red"])
    assert missing.exit_code == 1 and f"no index in {tmp_path / 'none'}" in missing.output


@pytest.mark.parametrize("args", [["red", "--video", "999"], ["--like", "999@1"], ["--like", "gone.mp4@1"]])
def test_unknown_videos_name_the_data_dir(data_dir, args):
    result = _run(data_dir, *args)
    assert result.exit_code == 1 and f"no video in the index in {data_dir}" in result.output


def test_search_in_another_folder_creates_no_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["search", "red"], env={"REELSEARCH_DATA_DIR": None})
    assert result.exit_code == 1 and f"no index in {tmp_path / 'data' / 'index'}" in result.output
    assert not (tmp_path / "data").exists()


def test_help_names_the_taxonomy_environment_variable():
    assert "REELSEARCH_TAXONOMY" in CliRunner().invoke(cli, ["search", "--help"]).output


def test_query_words_may_start_with_a_dash(data_dir):
    """``search -red blue`` is the query "-red + blue" (no ``--`` needed); options still work."""
    quoted = _run(data_dir, "-red + blue", "--json")
    assert quoted.exit_code == 0 and quoted.stdout
    for args in (["-red", "blue", "--json"], ["--json", "--", "-red", "blue"], ["--json", "-red", "blue"]):
        result = _run(data_dir, *args)
        assert result.exit_code == 0, result.output
        assert result.stdout == quoted.stdout, args
    one = _run(data_dir, "blue", "-red", "-k", "1", "--json")
    assert one.exit_code == 0 and len(one.stdout.splitlines()) == 1
    words = _run(data_dir, "a", "blue", "scene", "--json")
    assert words.stdout == _run(data_dir, "a blue scene", "--json").stdout


def test_query_text_joins_shell_words():
    from search.cli import query_text

    assert query_text(()) is None
    assert query_text(("-night", "beach")) == "-night + beach"
    assert query_text(("dog", "on", "a", "beach", "-night")) == "dog on a beach -night"
    assert query_text(("red", "car", "-0.2", "rain")) == "red car -0.2 rain"
    assert query_text(("-night", "+", "beach")) == "-night + beach"
