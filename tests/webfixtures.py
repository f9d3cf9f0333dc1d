"""Fixtures for the web tests: a real data dir built from generated videos.

Videos are generated with tests/media.py and indexed by the real pipeline with the fake
colour encoder and a small colour taxonomy, so "red" finds the red scenes at known times.
One data dir is built per test session (cached here); tests that write get a copy.
Import the fixtures into a test module with ``from webfixtures import *``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from media import GeneratedVideo, Scene, make_video

CURATOR, PASSWORD = "alice", "correct horse battery"

TAXONOMY_TOML = """\
version = 1
threshold = 0.8
background = ["a photo", "a video frame", "a person"]

[[category]]
id = "warm"
name = "Warm colours"
prompts = ["white"]

[[category]]
id = "warm/red"
name = "Red"
prompts = ["red"]

[[category]]
id = "warm/yellow"
name = "Yellow"
prompts = ["yellow"]

[[category]]
id = "cool"
name = "Cool colours"
prompts = ["gray"]

[[category]]
id = "cool/blue"
name = "Blue"
prompts = ["blue"]

[[category]]
id = "cool/green"
name = "Green"
prompts = ["green"]

[[category]]
id = "alcohol"
name = "Alcohol"
prompts = ["magenta"]
restricted = true
description = "Stands in for a restricted category: magenta scenes."

[[category]]
id = "night"
name = "Night"
prompts = ["black"]
"""


@dataclass(frozen=True)
class WebData:
    """A built data dir: where it is, the taxonomy file, the videos and their store ids."""

    data_dir: Path
    taxonomy: Path
    videos: dict[str, GeneratedVideo]
    ids: dict[str, int]

    def copy_to(self, target: Path) -> "WebData":
        """A writable copy of the data dir (videos stay where they are)."""
        shutil.copytree(self.data_dir, target)
        return WebData(target, self.taxonomy, self.videos, self.ids)


_BUILT: dict[str, WebData] = {}


def _build(root: Path) -> WebData:
    from indexer.store import curation
    from indexer.labels.classify import LabelModel
    from indexer.models.loading import encoder_spec
    from indexer.models.colour import ColourEncoder
    from indexer.pipeline.orchestrate import Indexer, IndexOptions
    from indexer.store import Store
    from indexer.labels.taxonomy import load_taxonomy

    media, data_dir = root / "media", root / "index"
    media.mkdir()
    taxonomy_path = root / "taxonomy.toml"
    taxonomy_path.write_text(TAXONOMY_TOML, encoding="utf-8")
    videos = {
        "harbour": make_video(media / "harbour.mp4", [Scene("blue", 60), Scene("red", 75), Scene("green", 60)]),
        "market": make_video(media / "market.mp4", [Scene("yellow", 45), Scene("magenta", 60), Scene("red", 45)]),
        "meadow": make_video(media / "meadow.mp4", [Scene("green", 90), Scene("cyan", 45)]),
    }
    encoder = ColourEncoder()
    with Store.open(data_dir) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        labels = LabelModel.build(load_taxonomy(taxonomy_path), encoder)
        results = list(Indexer(store, encoder, labels, IndexOptions(every=0.25)).index_paths([media]))
        assert all(r.status == "indexed" for r in results), results
        curation.add_user(store, CURATOR, PASSWORD)
    return WebData(data_dir, taxonomy_path, videos, {r.path.stem: r.video_id for r in results})


@pytest.fixture(scope="session")
def web_data(tmp_path_factory) -> WebData:
    """The shared, read-only data dir (do not write to it; use ``writable_data``)."""
    if "data" not in _BUILT:
        _BUILT["data"] = _build(tmp_path_factory.mktemp("web"))
    return _BUILT["data"]


@pytest.fixture()
def writable_data(web_data: WebData, tmp_path: Path) -> WebData:
    """A private copy of the data dir for tests that change segments or users."""
    return web_data.copy_to(tmp_path / "index")


def make_app(data: WebData, **extra: Any):
    """A test app over ``data`` with the fake encoder."""
    from indexer.models.colour import ColourEncoder
    from web import create_app

    config = {"TESTING": True, "DATA_DIR": data.data_dir, "TAXONOMY": data.taxonomy,
              "ENCODER": ColourEncoder(), "SECRET_KEY": "test-secret-key-" + "x" * 32}
    config.update(extra)
    return create_app(config)


def _closing(app) -> Iterator:
    yield app
    app.extensions["reelsearch"].close()


@pytest.fixture()
def app(web_data: WebData):
    """App over the shared data dir (reads only)."""
    yield from _closing(make_app(web_data))


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def rw_app(writable_data: WebData):
    """App over a private copy of the data dir (curator writes allowed)."""
    yield from _closing(make_app(writable_data))


@pytest.fixture()
def rw_client(rw_app):
    return rw_app.test_client()


def csrf_of(client) -> str:
    """The client's session CSRF token (from GET /api/session)."""
    return client.get("/api/session").get_json()["csrf_token"]


def sign_in(client, name: str = CURATOR, password: str = PASSWORD) -> str:
    """Sign in through the JSON API; return the fresh CSRF token."""
    token = csrf_of(client)
    response = client.post("/api/login", json={"name": name, "password": password},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["csrf_token"]


__all__ = ["CURATOR", "PASSWORD", "WebData", "app", "client", "csrf_of", "make_app", "rw_app",
           "rw_client", "sign_in", "web_data", "writable_data"]
