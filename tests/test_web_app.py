"""The app factory: configuration order, the secret key, error bodies, security headers."""

from __future__ import annotations

import os
import stat

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app

from web import create_app
from web.config import load_secret_key


def test_secret_key_is_generated_once_with_private_permissions(tmp_path):
    data_dir = tmp_path / "index"
    app = create_app({"TESTING": True, "DATA_DIR": data_dir})
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 32
    again = create_app({"TESTING": True, "DATA_DIR": data_dir})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_configured_secret_key_is_used_and_no_file_written(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path, "SECRET_KEY": "k" * 40})
    assert app.config["SECRET_KEY"] == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_short_secret_key_file_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(OSError, match="too short"):
        load_secret_key(tmp_path)


def test_config_file_then_env_then_mapping(tmp_path, monkeypatch):
    (tmp_path / "web.toml").write_text('search_limit = 7\nthumb_width = 200\nmax_content_length = 1000\n')
    monkeypatch.setenv("REELSEARCH_WEB_THUMB_WIDTH", "240")
    app = create_app({"DATA_DIR": tmp_path, "MAX_CONTENT_LENGTH": 2000})
    assert app.config["SEARCH_LIMIT"] == 7  # from the file
    assert app.config["THUMB_WIDTH"] == 240  # env beats the file
    assert app.config["MAX_CONTENT_LENGTH"] == 2000  # the mapping beats both


def test_explicit_config_file_and_testing_ignores_it(tmp_path, monkeypatch):
    conf = tmp_path / "conf.py"
    conf.write_text("SEARCH_LIMIT = 3\n")
    monkeypatch.setenv("REELSEARCH_WEB_CONFIG", str(conf))
    assert create_app({"DATA_DIR": tmp_path}).config["SEARCH_LIMIT"] == 3
    assert create_app({"DATA_DIR": tmp_path, "TESTING": True}).config["SEARCH_LIMIT"] == 20
    monkeypatch.setenv("REELSEARCH_WEB_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="REELSEARCH_WEB_CONFIG"):
        create_app({"DATA_DIR": tmp_path})


def test_data_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REELSEARCH_DATA_DIR", str(tmp_path / "elsewhere"))
    app = create_app({"TESTING": True})
    assert app.config["DATA_DIR"] == tmp_path / "elsewhere"


def test_session_cookie_settings(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_empty_data_dir_says_how_to_index(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": tmp_path})
    client = app.test_client()
    page = client.get("/browse")
    assert page.status_code == 503
    assert b"reelsearch index" in page.data
    api = client.get("/api/videos")
    assert api.status_code == 503
    assert "reelsearch index" in api.get_json()["error"]


def test_unknown_routes_are_404_json_for_the_api_and_html_otherwise(client):
    api = client.get("/api/nothing/here")
    assert api.status_code == 404
    assert api.is_json and "no API endpoint" in api.get_json()["error"]
    page = client.get("/nothing")
    assert page.status_code == 404
    assert page.mimetype == "text/html"


def test_wrong_method_is_405_with_allow_header(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_security_headers_on_pages(client):
    response = client.get("/browse")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_static_assets_are_served(client):
    css = client.get("/static/style.css")
    js = client.get("/static/video.js")
    assert css.status_code == 200 and b".timeline" in css.data
    assert js.status_code == 200 and b"currentTime" in js.data
    css.close()
    js.close()


def test_new_videos_appear_without_restart(writable_data, tmp_path):
    """A second process (here: a writable store) indexes a video; the running app sees it."""
    from media import Scene, make_video

    from indexer.labels.classify import LabelModel
    from indexer.models.colour import ColourEncoder
    from indexer.pipeline.orchestrate import Indexer, IndexOptions
    from indexer.store import Store
    from indexer.labels.taxonomy import load_taxonomy

    app = make_app(writable_data)
    client = app.test_client()
    before = client.get("/api/videos").get_json()["videos"]
    clip = make_video(tmp_path / "late.mp4", [Scene("black", 40)])
    encoder = ColourEncoder()
    with Store.open(writable_data.data_dir) as store:
        labels = LabelModel.build(load_taxonomy(writable_data.taxonomy), encoder)
        [result] = Indexer(store, encoder, labels, IndexOptions(every=0.25)).index_paths([clip.path])
    after = client.get("/api/videos").get_json()["videos"]
    assert len(after) == len(before) + 1
    assert result.video_id in {v["id"] for v in after}
    found = client.get("/api/search?q=black").get_json()["results"]
    assert [r["video_id"] for r in found] == [result.video_id]
    app.extensions["reelsearch"].close()
    assert os.path.exists(writable_data.data_dir / "catalog.sqlite3")


@pytest.mark.parametrize("where", ["mapping", "environment", "config file"])
def test_relative_data_dir_is_made_absolute_once(tmp_path, monkeypatch, where):
    """A relative data dir names a folder under the current directory, whatever reads it later."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REELSEARCH_DATA_DIR", raising=False)
    overrides = {}
    if where == "mapping":
        overrides = {"DATA_DIR": "rel/index", "TESTING": True}
    elif where == "environment":
        monkeypatch.setenv("REELSEARCH_DATA_DIR", "rel/index")
    else:
        (tmp_path / "web.toml").write_text('data_dir = "rel/index"\n')
        monkeypatch.setenv("REELSEARCH_WEB_CONFIG", str(tmp_path / "web.toml"))
    app = create_app(overrides)
    assert app.config["DATA_DIR"] == tmp_path / "rel" / "index"
    assert app.extensions["reelsearch"].data_dir == tmp_path / "rel" / "index"
