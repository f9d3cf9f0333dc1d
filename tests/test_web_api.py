"""JSON API reads: search, categories, videos, video detail, report, audit, errors."""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np
import pytest
from PIL import Image
from webfixtures import *  # noqa: F401,F403  (fixtures)

from indexer.models.colour import COLOURS, ColourEncoder
from indexer.store import SegmentRecord


def test_search_returns_videos_with_scenes(client, web_data):
    body = client.get("/api/search?q=green").get_json()
    assert body["query"] == "green" and body["message"] is None
    ids = {r["video_id"] for r in body["results"]}
    assert ids == {web_data.ids["harbour"], web_data.ids["meadow"]}
    for result in body["results"]:
        name = result["name"].removesuffix(".mp4")
        truth = [t for c, s, e in web_data.videos[name].scene_spans if c == "green" for t in (s, e)]
        scenes = [t for s in result["scenes"] for t in (s["start"], s["end"])]
        assert scenes == pytest.approx(truth, abs=0.002)
        assert all("cool/green" in s["labels"] for s in result["scenes"])
        assert all(s["thumb"].startswith("/media/thumbs/") for s in result["scenes"])


def test_search_k_limits_videos(client):
    assert len(client.get("/api/search?q=green&k=1").get_json()["results"]) == 1


@pytest.mark.parametrize("query,needle", [
    ("", "give q"), ("k=0&q=red", "k must be"), ("k=x&q=red", "whole number"),
    ("q=" + "a" * 400, "limit"), ('q="open', "quote"), ("like=abc", "VIDEO@SECONDS"),
])
def test_search_bad_queries_are_400(client, query, needle):
    response = client.get("/api/search?" + query)
    assert response.status_code == 400
    assert needle in response.get_json()["error"]


def test_search_unknown_category_or_video_is_404(client):
    assert client.get("/api/search?q=red&category=nope").status_code == 404
    assert client.get("/api/search?like=77@1").status_code == 404


def test_search_empty_result_has_message(client):
    body = client.get("/api/search?q=giraffe").get_json()
    assert body["results"] == [] and "no scene matches" in body["message"]


def test_search_by_image_upload(client, web_data):
    buf = io.BytesIO()
    Image.new("RGB", (50, 40), COLOURS["magenta"]).save(buf, "JPEG")
    response = client.post("/api/search", data={"image": (io.BytesIO(buf.getvalue()), "q.jpg"), "k": "5"},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert [r["video_id"] for r in response.get_json()["results"]] == [web_data.ids["market"]]


def test_categories_tree_and_listing(client, web_data):
    body = client.get("/api/categories").get_json()
    rows = {r["id"]: r for r in body["categories"]}
    assert rows["warm"]["videos"] == 2 and rows["warm/red"]["videos"] == 2
    assert rows["alcohol"]["restricted"] is True and rows["warm"]["restricted"] is False
    red_time = sum(e - s for v in web_data.videos.values() for c, s, e in v.scene_spans if c == "red")
    assert rows["warm/red"]["screen_time"] == pytest.approx(red_time, abs=0.1)
    assert body["videos"] == 3 and body["restricted"]["videos"] == 1
    listing = client.get("/api/categories/cool/videos").get_json()
    assert listing["kind"] == "category"
    cool = {name: sum(e - s for c, s, e in v.scene_spans if c in ("blue", "green"))
            for name, v in web_data.videos.items()}
    expected = sorted((n for n in cool if cool[n]), key=lambda n: -cool[n])
    assert [v["name"] for v in listing["videos"]] == [f"{n}.mp4" for n in expected]  # longest first
    assert [v["screen_time"] for v in listing["videos"]] == pytest.approx([cool[n] for n in expected], abs=0.1)
    assert client.get("/api/categories/nothing/videos").status_code == 404


def test_videos_and_video_detail(client, web_data):
    videos = client.get("/api/videos").get_json()["videos"]
    assert {v["name"] for v in videos} == {"harbour.mp4", "market.mp4", "meadow.mp4"}
    vid = web_data.ids["harbour"]
    detail = client.get(f"/api/videos/{vid}").get_json()
    assert detail["video"]["fps"] == "30000/1001"
    assert detail["video"]["duration"] == pytest.approx(web_data.videos["harbour"].duration, abs=0.04)
    assert detail["cuts"] == pytest.approx(list(web_data.videos["harbour"].cut_times), abs=0.001)
    assert len(detail["cut_margins"]) == 2 and min(detail["cut_margins"]) > 0
    assert detail["transitions"] == []  # hard cuts only
    assert {s["label"] for s in detail["segments"]} >= {"cool/blue", "warm/red", "cool/green"}
    first = detail["segments"][0]
    fields = {f.name for f in dataclasses.fields(SegmentRecord)}
    assert set(first) == fields | {"start_hms", "end_hms", "colour"}  # SegmentRecord.to_dict + the colour
    assert detail["media"] == f"/media/videos/{vid}"
    assert client.get("/api/videos/12345").status_code == 404
    assert client.get("/api/videos/12345").get_json()["error"]


def test_video_and_category_listings_come_a_page_at_a_time(client, web_data):
    everything = client.get("/api/videos").get_json()
    assert (everything["page"], everything["pages"], everything["total"]) == (1, 1, 3)
    pages = [client.get(f"/api/videos?per_page=2&page={p}").get_json() for p in (1, 2, 9)]
    assert [v["id"] for p in pages[:2] for v in p["videos"]] == [v["id"] for v in everything["videos"]]
    assert [(p["page"], p["pages"], len(p["videos"])) for p in pages] == [(1, 2, 2), (2, 2, 1), (2, 2, 1)]
    whole = client.get("/api/categories/cool/videos").get_json()
    first, second = (client.get(f"/api/categories/cool/videos?per_page=1&page={p}").get_json() for p in (1, 2))
    assert [first["videos"][0], second["videos"][0]] == whole["videos"][:2] and first["total"] == whole["total"]
    for bad in ("/api/videos?page=0", "/api/videos?per_page=5000", "/api/categories/cool/videos?page=x"):
        assert client.get(bad).status_code == 400 and client.get(bad).get_json()["error"]


def test_report_category_and_free_text(client, web_data):
    vid = web_data.ids["market"]
    magenta = next(s for s in web_data.videos["market"].scene_spans if s[0] == "magenta")
    report = client.get(f"/api/videos/{vid}/report?label=alcohol").get_json()
    assert report["kind"] == "category" and report["contains"] is True
    assert report["first_appearance"] == pytest.approx(magenta[1], abs=0.001)
    assert report["total_duration"] == pytest.approx(magenta[2] - magenta[1], abs=0.07)
    prompt = client.get(f"/api/videos/{vid}/report", query_string={"label": "something magenta"}).get_json()
    assert prompt["kind"] == "prompt" and prompt["contains"] is True
    assert prompt["first_appearance"] == pytest.approx(magenta[1], abs=0.001)
    absent = client.get(f"/api/videos/{vid}/report?label=Blue").get_json()
    assert absent["contains"] is False and absent["first_appearance"] is None


def test_report_errors(client, web_data):
    vid = web_data.ids["market"]
    assert client.get(f"/api/videos/{vid}/report").status_code == 400
    assert client.get(f"/api/videos/{vid}/report?label=%20").status_code == 400
    assert client.get("/api/videos/999/report?label=red").status_code == 404


def test_audit_of_untouched_video_is_empty(client, web_data):
    assert client.get(f"/api/videos/{web_data.ids['meadow']}/audit").get_json() == {"audit": []}
    assert client.get("/api/videos/999/audit").status_code == 404


def test_openapi_document_lists_the_routes(client, app):
    import yaml
    response = client.get("/api/openapi.yaml")
    assert response.status_code == 200
    spec = yaml.safe_load(response.get_data(as_text=True))
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        if path.startswith("/api/") and "action" not in path:
            assert path in documented, path
    assert "/api/segments/{segment_id}/accept" in documented


def test_embed_gives_the_index_encoders_vectors(client):
    body = client.get("/api/embed?text=red&text=a+green+meadow").get_json()
    colour = ColourEncoder()
    assert body["encoder"] == colour.name
    np.testing.assert_allclose(body["vectors"], colour.encode_texts(["red", "a green meadow"]), atol=1e-6)
    for query in ("", "text=" + "a" * 1001, "&".join(["text=x"] * 65)):
        response = client.get("/api/embed?" + query)
        assert response.status_code == 400 and "texts" in response.get_json()["error"]


def test_video_detail_and_page_show_transitions(writable_data):
    from indexer.store import Store
    from indexer.store import queries as q
    from indexer.types import Transition

    vid = writable_data.ids["meadow"]
    fade = Transition("fade_out", 3.2, 3.9, 288000, 351000, 41.5, "black")
    with Store.open(writable_data.data_dir) as store:
        with store.catalog.write() as conn:
            q.insert_transitions(conn, vid, [fade])
    app = make_app(writable_data)
    with app.test_client() as client:
        detail = client.get(f"/api/videos/{vid}").get_json()
        assert detail["transitions"] == [{"kind": "fade_out", "colour": "black", "start": 3.2, "end": 3.9,
                                          "strength": 41.5}]
        page = client.get(f"/videos/{vid}").get_data(as_text=True)
        assert 'title="fade out: 00:00:03.200–00:00:03.900"' in page
    app.extensions["reelsearch"].close()


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floats(item)
    elif isinstance(value, list):
        for item in value:
            yield from _floats(item)


def test_json_times_are_rounded_to_the_microsecond(client, web_data):
    """Sums and differences of 29.97 fps times (3.0029999999999992) never reach API responses."""
    vid = web_data.ids["harbour"]
    urls = ["/api/search?q=red", "/api/search?q=green", "/api/videos", f"/api/videos/{vid}",
            f"/api/videos/{vid}/report?label=warm", f"/api/videos/{vid}/report?label=a+red+scene",
            "/api/categories/warm/videos"]
    floats = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        floats += _floats(response.get_json())
    assert len(floats) > 20
    assert [f for f in floats if f != round(f, 6)] == []
