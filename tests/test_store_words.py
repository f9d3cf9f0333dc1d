"""The store's word rows (indexer/store/words.py): FTS5 phrase search, highlights, rows replaced on
re-index and gone with the video, readers see them, older stores gain the table."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.store import NewVideo, Store
from indexer.store import migrations
from indexer.types import SpeechSegment, SpokenWord, TextSpan, VideoInfo

DIM = 8


def _write(store: Store, path: str, text=(), speech=(), content="abc") -> int:
    info = VideoInfo(Path(path), 10.0, Fraction(25), 160, 120, 0, 0.0, "h264")
    vectors = np.eye(DIM, dtype=np.float32)[:2]
    return store.write_video(NewVideo(Path(path), content, 1, 1.0, info, 0.5), np.array([0.0, 5.0]),
                             np.array([0, 125]), vectors, [], [], text=text, speech=speech)


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "data") as s:
        s.bind_encoder("fake", DIM, {"kind": "fake"})
        yield s


SPEECH = SpeechSegment("Free delivery on every order.", 1.0, 2.7, (
    SpokenWord("Free", 1.0, 1.3, 0.9), SpokenWord("delivery", 1.3, 1.8, 0.95),
    SpokenWord("on", 1.8, 1.9, 0.9), SpokenWord("every", 1.9, 2.2, 0.9), SpokenWord("order.", 2.2, 2.7, 0.9)))


def test_phrase_search_by_kind_with_highlights(store):
    video = _write(store, "/v/a.mp4", [TextSpan("SPF-30 sun cream", 0.5, 2.0, 0.99, (0.1, 0.1, 0.5, 0.2)),
                                       TextSpan("Only $1.99", 2.0, 12.0, 0.9)], [SPEECH])
    (hit,) = store.search_words("spf 30", "text")
    assert hit.row.video_id == video and hit.row.box == (0.1, 0.1, 0.5, 0.2)
    assert [p for p, matched in hit.parts if matched] == ["SPF-30"]
    assert store.search_words("spf 30", "said") == []
    (said,) = store.search_words("every order", None)
    assert said.row.kind == "said" and [w.word for w in said.row.words][:2] == ["Free", "delivery"]
    assert store.search_words("30 spf") == []  # a phrase: tokens in order
    assert store.search_words("1.99", "text")[0].row.end == 10.0  # clamped to the video's duration
    assert [r.kind for r in store.words(video)] == ["text", "said", "text"]


def test_reindex_replaces_rows_and_delete_removes_them(store):
    video = _write(store, "/v/a.mp4", [TextSpan("old line", 0.0, 1.0, 0.9)])
    assert _write(store, "/v/a.mp4", [TextSpan("new line", 0.0, 1.0, 0.9)], content="changed") == video
    assert store.search_words("old line") == [] and len(store.search_words("new line")) == 1
    store.delete_video(video)
    assert store.search_words("new line") == [] and store.words(video) == []


def test_quotes_in_a_phrase_are_text(store):
    _write(store, "/v/a.mp4", [TextSpan('say "cheese"', 0.0, 1.0, 0.9)])
    assert len(store.search_words('say "cheese"')) == 1


def test_a_store_of_the_previous_schema_gains_the_word_tables(tmp_path, monkeypatch):
    before = migrations.MIGRATIONS.index(migrations.m007_words)  # the schema just before words
    with monkeypatch.context() as old:
        old.setattr(migrations, "SCHEMA_VERSION", before)
        old.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        with Store.open(tmp_path / "data") as s:
            s.bind_encoder("fake", DIM, {"kind": "fake"})
    conn = sqlite3.connect(tmp_path / "data" / "catalog.sqlite3")
    assert migrations.schema_version(conn) == before
    conn.close()
    with Store.open(tmp_path / "data") as s:
        _write(s, "/v/a.mp4", [TextSpan("hello world", 0.0, 1.0, 0.9)])
    with Store.open(tmp_path / "data", readonly=True) as reader:
        assert reader.search_words("hello")[0].row.text == "hello world"
