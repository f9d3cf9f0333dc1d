"""Tests of ``reelsearch eval``, ``learn`` (and ``--rollback``) and ``review`` on a synthetic archive."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from teachworld import CURATOR, SyntheticEncoder, build_world, judge_video

from benchmarks.synthetic_labels import TAXONOMY_TOML
from indexer.cli.main import cli


def _world(tmp_path: Path) -> tuple[list[str], list]:
    tax_file = tmp_path / "taxonomy.toml"
    tax_file.write_text(TAXONOMY_TOML)
    store, _tax, videos = build_world(tmp_path / "data", SyntheticEncoder(), videos=16)
    with store:
        for v in videos[:6]:
            judge_video(store, v, "sand", CURATOR)
    return ["--data-dir", str(tmp_path / "data"), "--taxonomy", str(tax_file)], videos


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_eval_learn_review_and_rollback_from_the_shell(tmp_path: Path) -> None:
    common, _videos = _world(tmp_path)
    before = json.loads(run(["eval", "--json", *common]))
    (sand,) = before["categories"]
    assert sand["category"] == "sand" and sand["learned"] is None and sand["judgements"] > 6
    table = run(["eval", "--category", "sand", *common])
    assert table.splitlines()[0].split()[:4] == ["CATEGORY", "MODEL", "JUDG.", "PREC"] and "sand" in table

    queue = json.loads(run(["review", "--json", "--category", "sand", *common]))["queue"]
    assert queue and all(q["category"] == "sand" for q in queue)
    assert [q["priority"] for q in queue] == sorted((q["priority"] for q in queue), reverse=True)

    learned = json.loads(run(["learn", "--json", *common]))
    (outcome,) = learned["categories"]
    assert outcome["status"] == "adopted" and learned["version"] == 1
    after = json.loads(run(["eval", "--json", "--category", "sand", *common]))["categories"][0]
    assert after["learned"]["f1"] > after["zero_shot"]["f1"] == sand["zero_shot"]["f1"]
    assert after["held_out"] == outcome["held_out"]  # the honest figure: cross-validated when learned
    assert "held-out" in run(["eval", "--category", "sand", *common])

    assert "rolled back version 1" in run(["learn", "--rollback", *common])
    assert json.loads(run(["eval", "--json", *common]))["categories"][0]["learned"] is None


def test_errors_are_one_line(tmp_path: Path) -> None:
    common, _videos = _world(tmp_path)
    result = CliRunner().invoke(cli, ["learn", "--rollback", *common])
    assert result.exit_code == 1 and result.output.strip() == "Error: there is no learned model version to roll back"
    result = CliRunner().invoke(cli, ["eval", "--category", "nope", *common])
    assert result.exit_code == 1 and "unknown category 'nope'" in result.output
    result = CliRunner().invoke(cli, ["eval", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index in" in result.output
