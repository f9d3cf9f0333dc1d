"""Tests of the curator loop in the web app (web.teach, web.teaching): reviewed marks and
judgements through the API become training rows, eval and review pages, batch + undo, learn and
rollback, relevance feedback and "save as category"."""

from __future__ import annotations

import numpy as np
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import sign_in

from indexer.labels.taxonomy import load_taxonomy
from indexer.models.colour import ColourEncoder
from indexer.store import Store
from search.teach.judged import judged_videos
from search.teach.learn import judged_frames, models


def _auto(client, vid: int, label: str) -> list[dict]:
    return [s for s in client.get(f"/api/videos/{vid}").get_json()["segments"]
            if s["label"] == label and s["source"] == "auto"]


def test_api_judgements_become_training_rows(rw_client, writable_data) -> None:
    token = sign_in(rw_client)
    headers = {"X-CSRF-Token": token}
    harbour, market = writable_data.ids["harbour"], writable_data.ids["market"]
    red = _auto(rw_client, harbour, "warm/red")[0]
    r = rw_client.post(f"/api/videos/{harbour}/reviewed", json={"category": "warm/red"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["accepted"] == [red["id"]]
    market_red = _auto(rw_client, market, "warm/red")[0]
    assert rw_client.post(f"/api/segments/{market_red['id']}/reject", headers=headers).status_code == 200
    with Store.open(writable_data.data_dir, readonly=True) as store:
        videos = judged_videos(store, ["warm/red"])
        base, _current = models(store, load_taxonomy(writable_data.taxonomy), ColourEncoder())
        rows = judged_frames(base, videos, "warm/red")
        h_times = np.array(store.frame_times(harbour))
        m_times = np.array(store.frame_times(market))
    in_red = (h_times >= red["start"]) & (h_times < red["end"])
    rejected = (m_times >= market_red["start"]) & (m_times < market_red["end"])
    # harbour (reviewed): its red span positive, everything else negative; market: the rejected span negative
    assert int(rows.positive.sum()) == int(in_red.sum()) > 0
    assert int((~rows.positive).sum()) == int((~in_red).sum() + rejected.sum())
    assert sorted(set(rows.video_ids.tolist())) == sorted([harbour, market])
    assert rw_client.delete(f"/api/videos/{harbour}/reviewed", json={"category": "warm/red"},
                            headers=headers).get_json()["reviewed"] is False


def test_eval_and_review_pages_and_api(rw_client, writable_data) -> None:
    assert "No judgements yet" in rw_client.get("/eval").get_data(as_text=True)
    token = sign_in(rw_client)
    headers = {"X-CSRF-Token": token}
    queue = rw_client.get("/api/review?category=warm/red").get_json()["queue"]
    assert queue and {q["category"] for q in queue} == {"warm/red"}
    assert all(q["thumbnail"].startswith(f"/media/thumbs/{q['video_id']}/") for q in queue)
    first = queue[0]["segment_id"]
    done = rw_client.post("/api/review/batch", json={"actions": [{"segment_id": first, "action": "reject"}]},
                          headers=headers).get_json()["segments"]
    assert done[0]["status"] == "rejected"
    report = rw_client.get("/api/eval").get_json()
    (row,) = report["categories"]
    assert row["category"] == "warm/red" and row["judgements"] == 1 and row["negative_frames"] > 0
    page = rw_client.get("/eval").get_data(as_text=True)
    assert "warm/red" in page and "zero-shot" in page
    undone = rw_client.post(f"/api/segments/{first}/undo", headers=headers).get_json()["segment"]
    assert (undone["source"], undone["status"]) == ("auto", "active")
    html = rw_client.get("/review?category=warm/red").get_data(as_text=True)
    assert f'data-segment="{first}"' in html and "review.js" in html
    bad = rw_client.post("/api/review/batch", json={"actions": [{"segment_id": first, "action": "nope"}]},
                         headers=headers)
    assert bad.status_code == 400


def test_learn_and_rollback_need_a_curator_and_report(rw_client) -> None:
    assert rw_client.post("/api/learn", json={}).status_code in (401, 403)
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    result = rw_client.post("/api/learn", json={}, headers=headers).get_json()
    assert result["version"] is None and "before" in result and "after" in result
    missing = rw_client.post("/api/learn/rollback", headers=headers)
    assert missing.status_code == 404 and "no learned model version" in missing.get_json()["error"]


def test_feedback_refines_and_saves_a_category(rw_client, writable_data) -> None:
    plain = rw_client.get("/api/search?q=red").get_json()
    scene = plain["results"][0]["scenes"][0]
    mark = scene["feedback"]["mark"]
    refined = rw_client.get(f"/api/search?q=red&up={mark}").get_json()
    assert refined["feedback"] == {"up": [mark], "down": [], "refined": True}
    assert refined["results"] and "refined: 1 up" in refined["query_label"]
    html = rw_client.get(f"/search?q=red&up={mark}").get_data(as_text=True)
    assert "Refined" in html and "thumb-up on" in html and "Save as category" not in html
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    saved = rw_client.post("/api/categories", json={"name": "Red shots", "q": "red", "up": [mark]}, headers=headers)
    assert saved.status_code == 201, saved.get_json()
    category = saved.get_json()["category"]
    assert category["id"] == "red-shots"
    listing = rw_client.get("/api/categories/red-shots/videos").get_json()["videos"]
    assert writable_data.ids["harbour"] in [v["video_id"] for v in listing]
    again = rw_client.post("/api/categories", json={"name": "Red shots", "q": "red", "up": [mark]}, headers=headers)
    assert again.status_code == 400 and "exists already" in again.get_json()["error"]
    assert rw_client.get("/browse/category/red-shots").status_code == 200
    bad = rw_client.get("/api/search?q=red&up=nonsense")
    assert bad.status_code == 400 and "VIDEO_ID@START-END" in bad.get_json()["error"]


def test_reviewed_marks_on_the_video_page(rw_client, writable_data) -> None:
    token = sign_in(rw_client)
    vid = writable_data.ids["harbour"]
    assert "Mark reviewed" in rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    r = rw_client.post(f"/videos/{vid}/reviewed", data={"csrf_token": token, "category": "Red", "mark": "1"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/videos/{vid}#curator")
    page = rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    assert "Marked reviewed for warm/red; 1 automatic segment(s) accepted." in page and "✓ warm/red" in page
    assert not _auto(rw_client, vid, "warm/red")
    rw_client.post(f"/videos/{vid}/reviewed", data={"csrf_token": token, "unmark": "warm/red"})
    page = rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    assert "warm/red is no longer marked reviewed." in page and "✓ warm/red" not in page
    assert rw_client.post(f"/videos/{vid}/reviewed", data={"category": "warm/red"}).status_code == 403


def test_learn_through_the_api_and_the_eval_page(tmp_path) -> None:
    from teachworld import CURATOR as TEACHER, SyntheticEncoder, build_world, judge_video

    from benchmarks.synthetic_labels import TAXONOMY_TOML
    from web import create_app

    enc = SyntheticEncoder()
    store, _tax, videos = build_world(tmp_path / "index", enc, videos=16)
    with store:
        for v in videos[:6]:
            judge_video(store, v, "sand", TEACHER)
    (tmp_path / "taxonomy.toml").write_text(TAXONOMY_TOML)
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path / "index", "TAXONOMY": tmp_path / "taxonomy.toml",
                      "ENCODER": enc, "SECRET_KEY": "test-secret-key-" + "x" * 32})
    try:
        client = app.test_client()
        headers = {"X-CSRF-Token": sign_in(client, TEACHER, "password123")}
        result = client.post("/api/learn", json={"category": "sand"}, headers=headers).get_json()
        (sand,) = result["categories"]
        assert result["version"] == 1 and sand["status"] == "adopted"
        assert sand["held_out"]["learned"]["f1"] > sand["held_out"]["zero_shot"]["f1"]
        page = client.get("/eval").get_data(as_text=True)
        assert "learned, held-out" in page and "version 1" in page
        assert client.get("/api/learn/versions").get_json()["versions"][0]["labels"] == ["sand"]
        assert client.post("/api/learn/rollback", headers=headers).get_json()["rolled_back"] == 1
        assert "learned, held-out" not in client.get("/eval").get_data(as_text=True)
    finally:
        app.extensions["reelsearch"].close()
