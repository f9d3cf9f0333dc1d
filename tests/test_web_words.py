"""Words on the web: text/speech lanes and the transcript panel on the video page, matching words in
search results, ``GET /api/videos/<id>/words`` (web/words_view.py)."""

from __future__ import annotations

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app

from indexer.store import Store
from indexer.store.words import insert_words
from indexer.types import SpeechSegment, SpokenWord, TextSpan

SPEECH = SpeechSegment("Free delivery today", 2.5, 3.9, (
    SpokenWord("Free", 2.5, 2.8, 0.9), SpokenWord("delivery", 2.8, 3.3, 0.9), SpokenWord("today", 3.3, 3.9, 0.9)))


@pytest.fixture()
def words_client(writable_data):
    video_id = writable_data.ids["harbour"]
    with Store.open(writable_data.data_dir) as store, store.catalog.write() as conn:
        insert_words(conn, video_id, [TextSpan("SPF 30 <b>", 2.002, 4.505, 0.98, (0.1, 0.1, 0.4, 0.2))], [SPEECH],
                     store.get_video(video_id).duration)
    app = make_app(writable_data)
    yield app.test_client(), video_id
    app.extensions["reelsearch"].close()


def test_api_lists_text_and_transcript(words_client):
    client, video_id = words_client
    body = client.get(f"/api/videos/{video_id}/words").get_json()
    (line,) = body["text"]
    assert line["text"] == "SPF 30 <b>" and line["box"] == [0.1, 0.1, 0.4, 0.2] and line["start"] == 2.002
    (said,) = body["transcript"]
    assert [w["word"] for w in said["words"]] == ["Free", "delivery", "today"] and said["words"][1]["start"] == 2.8
    assert client.get("/api/videos/9999/words").status_code == 404


def test_video_page_has_word_lanes_and_a_transcript_that_seeks(words_client):
    client, video_id = words_client
    html = client.get(f"/videos/{video_id}").get_data(as_text=True)
    assert 'data-label="__text__"' in html and 'data-label="__said__"' in html
    assert 'class="seek word"' in html and 'data-start="2.8"' in html and ">delivery</a>" in html
    assert "words.js" in html and "SPF 30 &lt;b&gt;" in html and "SPF 30 <b>" not in html


def test_search_results_show_the_matching_words(words_client):
    client, video_id = words_client
    html = client.get('/search?q=said:"free delivery"').get_data(as_text=True)
    assert "<mark>Free delivery</mark> today" in html
    assert "bars show how well each scene matches every part of the query" in html and "above the cutoff" not in html
    rows = client.get('/api/search?q=text:"spf 30"').get_json()
    assert rows["fused"] is True and client.get("/api/search?q=green").get_json()["fused"] is False
    (result,) = rows["results"]
    assert result["video_id"] == video_id and result["scenes"][0]["words"][0]["kind"] == "text"
