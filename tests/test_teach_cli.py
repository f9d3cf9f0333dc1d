"""Tests of ``reelsearch eval``, ``learn`` (and ``--rollback``) and ``review`` on a synthetic archive."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from teachworld import CURATOR, SyntheticEncoder, build_world, judge_video

from benchmarks.synthetic_labels import TAXONOMY_TOML
from indexer.cli.main import cli
from indexer.store import curation


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


def _audit(data: Path) -> list[tuple[str, str, int]]:
    from indexer.store import Store

    with Store.open(data, readonly=True) as store:
        return [(e.user, e.action, e.segment_id) for v in store.list_videos() for e in curation.audit(store, v.id)]


def test_a_store_with_nothing_indexed_says_so_and_loads_no_model(tmp_path: Path, monkeypatch) -> None:
    from indexer.models import loading
    from indexer.store import Store

    def no_model(*args, **kwargs):
        raise AssertionError("no model may be loaded for a store with nothing indexed")

    monkeypatch.setattr(loading, "load_encoder", no_model)
    with Store.open(tmp_path / "data") as store:  # curator accounts only, as `user add` leaves it
        curation.add_user(store, CURATOR, "long enough secret")
    for command in (["eval"], ["learn"], ["review"]):
        result = CliRunner().invoke(cli, [*command, "--data-dir", str(tmp_path / "data")])
        assert result.exit_code == 1
        assert result.output == (f"Error: nothing is indexed in {tmp_path / 'data'} yet; "
                                 "run `reelsearch index PATH` first\n")


def test_judging_from_the_queue_is_recorded_under_the_curator(tmp_path: Path) -> None:
    common, _videos = _world(tmp_path)
    queue = json.loads(run(["review", "--json", "--category", "sand", *common]))["queue"]
    first, second = queue[0]["segment_id"], queue[1]["segment_id"]
    done = json.loads(run(["review", "--accept", str(first), "--reject", str(second), "--as", CURATOR,
                           "--json", *common]))["segments"]
    assert [(s["action"], s["id"], s["status"], s["source"]) for s in done] == [
        ("accept", first, "active", "curator"), ("reject", second, "rejected", "curator")]
    assert {(CURATOR, "accept", first), (CURATOR, "reject", second)} <= set(_audit(tmp_path / "data"))
    text = run(["review", "--undo", str(second), "--as", CURATOR, *common])
    assert f"undo {second}" in " ".join(text.split()) and "now active (auto)" in text
    again = [q["segment_id"] for q in json.loads(run(["review", "--json", "--category", "sand", *common]))["queue"]]
    assert first not in again  # judged segments leave the queue


def test_judging_needs_a_curator_account(tmp_path: Path) -> None:
    common, _videos = _world(tmp_path)
    result = CliRunner().invoke(cli, ["review", "--accept", "1", *common])
    assert result.exit_code == 1 and result.output.startswith("Error: recording a judgement") and \
        len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["review", "--accept", "1", "--as", "nobody", *common])
    assert result.exit_code == 1 and "unknown curator 'nobody'" in result.output
    result = CliRunner().invoke(cli, ["review", "--undo", "1", "--as", CURATOR, *common])
    assert result.exit_code == 1 and "no accept or reject to undo" in result.output


def test_reviewed_marks_from_the_shell(tmp_path: Path) -> None:
    from indexer.store import Store

    common, videos = _world(tmp_path)
    video = videos[10].id
    out = json.loads(run(["review", "--mark-reviewed", str(video), "--category", "sand", "--as", CURATOR,
                          "--json", *common]))["reviewed"]
    assert out[0]["video_id"] == video and out[0]["reviewed"] is True
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert (video, "sand") in set(store.teaching.reviewed())
        accepted = {s.id for s in store.segments(video) if s.label == "sand" and s.source == "curator"}
    assert accepted == set(out[0]["accepted"])
    assert "no longer marked reviewed for sand" in run(
        ["review", "--unmark-reviewed", str(video), "--category", "sand", "--as", CURATOR, *common])
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert (video, "sand") not in set(store.teaching.reviewed())
    result = CliRunner().invoke(cli, ["review", "--mark-reviewed", str(video), "--as", CURATOR, *common])
    assert result.exit_code == 1 and "need --category" in result.output


def _scene(common: list[str], query: str) -> tuple[int, float, float]:
    first = json.loads(run(["search", query, "--json", *common]).splitlines()[0])
    scene = first["scenes"][0]
    return first["video_id"], scene["start"], scene["end"]


def test_relevance_feedback_refines_the_search(tmp_path: Path) -> None:
    from search.teach.feedback import Mark, refine

    common, _videos = _world(tmp_path)
    video, start, end = _scene(common, "sea")
    plain = run(["search", "sea", "--json", *common])
    refined = run(["search", "sea", "--up", f"{video}@{start}-{end}", "--down", f"{video}@{end}", "--json", *common])
    assert refined.strip() and refined != plain
    table = run(["search", "sea", "--up", f"{video}@{start}", "-k", "3", *common])
    assert table.splitlines()[0].split()[:3] == ["#", "VIDEO", "SCENE"]
    # the same Rocchio service as the web: the refined vector ranks the CLI's first video first
    from indexer.store import Store
    from search.engine import SearchEngine
    from search.teach.feedback import query_vector
    from teachworld import SyntheticEncoder as Enc

    with Store.open(tmp_path / "data", readonly=True) as store:
        enc = Enc()
        engine = SearchEngine(store, store.cached_texts(enc), None)
        vector = refine(store, query_vector(store, engine, text="sea", like=None), [Mark(video, start, end)],
                        [Mark(video, end, end)])
        expected = engine.search_vector(vector, "x").results[0].video.id
    assert json.loads(refined.splitlines()[0])["video_id"] == expected
    bad = CliRunner().invoke(cli, ["search", "sea", "--up", "nonsense", *common])
    assert bad.exit_code == 1 and "VIDEO@SECONDS" in bad.output
    bad = CliRunner().invoke(cli, ["search", "sea", "--up", "9999@1", *common])
    assert bad.exit_code == 1 and "no video in the index" in bad.output


def test_save_refined_search_as_category(tmp_path: Path) -> None:
    from indexer.store import Store

    common, _videos = _world(tmp_path)
    video, start, end = _scene(common, "sea")
    args = ["search", "sea", "--up", f"{video}@{start}-{end}", "--save-as-category", "Sea shots", *common]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "--save-as-category needs --as NAME" in result.output
    out = run([*args, "--as", CURATOR])
    assert "saved category Sea shots (sea-shots)" in out
    with Store.open(tmp_path / "data", readonly=True) as store:
        (user_cat,) = [c for c in store.teaching.user_categories() if c.id == "sea-shots"]
        assert list(user_cat.prompts) == ["sea"]
        labelled = {s.video_id for v in store.list_videos() for s in store.segments(v.id) if s.label == "sea-shots"}
    assert labelled  # every video was labelled with the new category
    listing = run(["search", "sea", "--category", "sea-shots", "--json", *common])
    assert {json.loads(line)["video_id"] for line in listing.splitlines()} <= labelled
    again = CliRunner().invoke(cli, [*args, "--as", CURATOR])
    assert again.exit_code == 1 and "exists already" in again.output
