"""Tests for indexer.store.text_vectors: prompt and query embeddings kept in the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.labels.classify import LabelModel
from indexer.labels.taxonomy import parse_taxonomy
from indexer.models.colour import ColourEncoder
from indexer.store import Store
from indexer.store.text_vectors import CachedTextEncoder, TextVectors
from media import COLOUR_TAXONOMY


class Counting:
    """The colour encoder, counting the texts that reach it."""

    def __init__(self) -> None:
        self.inner = ColourEncoder()
        self.name, self.dim, self.image_size = self.inner.name, self.inner.dim, self.inner.image_size
        self.texts: list[str] = []

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return self.inner.encode_images(images)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        self.texts += list(texts)
        return self.inner.encode_texts(texts)


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "index")
    colour = ColourEncoder()
    store.bind_encoder(colour.name, colour.dim, {"kind": "plugin", "plugin": "x", "name": colour.name})
    return store


def test_only_missing_texts_reach_the_encoder(tmp_path: Path) -> None:
    encoder = Counting()
    with _store(tmp_path) as store:
        first = store.cached_texts(encoder).encode_texts(["red", "blue", "red"])
        again = store.cached_texts(encoder).encode_texts(["blue", "green", "red"])
    assert encoder.texts == ["red", "blue", "green"]
    np.testing.assert_array_equal(again[[2, 0]], first[[0, 1]])
    np.testing.assert_allclose(again, encoder.inner.encode_texts(["blue", "green", "red"]), atol=1e-7)


def test_changed_taxonomy_embeds_only_changed_prompts(tmp_path: Path) -> None:
    encoder = Counting()
    taxonomy = parse_taxonomy(COLOUR_TAXONOMY, Path('colours.toml'))
    changed = parse_taxonomy(COLOUR_TAXONOMY.replace('prompts = ["green"]', 'prompts = ["green", "a green scene"]'),
                             Path("colours.toml"))
    with _store(tmp_path) as store:
        built = LabelModel.build(taxonomy, store.cached_texts(encoder, "prompt"))
        embedded = len(encoder.texts)
        again = LabelModel.build(taxonomy, store.cached_texts(encoder, "prompt"))
        assert len(encoder.texts) == embedded  # nothing new
        LabelModel.build(changed, store.cached_texts(encoder, "prompt"))
    assert encoder.texts[embedded:] == ["a green scene"]
    np.testing.assert_array_equal(again.class_vectors, built.class_vectors)


def test_queries_are_a_bounded_lru_and_prompts_stay(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        cache = TextVectors(store.catalog, query_cache_size=3)
        vector = np.ones(4, np.float32)
        cache.put("enc", {"a prompt": vector}, "prompt")
        for text in ["q1", "q2", "q3"]:
            cache.put("enc", {text: vector}, "query")
        cache.put("enc", {}, "query", touched=["q1"])  # q1 used again: q2 is now the oldest
        cache.put("enc", {"q4": vector}, "query")
        assert set(cache.get("enc", ["a prompt", "q1", "q2", "q3", "q4"], 4)) == {"a prompt", "q1", "q3", "q4"}
        cache.put("enc", {"q1": vector}, "prompt")  # a query that became a prompt is kept for good
        assert (cache.count("enc", "prompt"), cache.count("enc", "query")) == (2, 2)
        assert cache.get("other encoder", ["q1"], 4) == {}
        assert cache.get("enc", ["q1"], 8) == {}  # another dimension is never returned


def test_read_only_store_keeps_queries_too(tmp_path: Path) -> None:
    _store(tmp_path).close()
    encoder = Counting()
    with Store.open(tmp_path / "index", readonly=True) as reader:
        reader.cached_texts(encoder).encode_texts(["a red scene"])
    with Store.open(tmp_path / "index", readonly=True) as reader:
        reader.cached_texts(encoder).encode_texts(["a red scene"])
        assert reader.text_vectors.count(encoder.name, "query") == 1
    assert encoder.texts == ["a red scene"]


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with _store(tmp_path) as store, pytest.raises(ValueError, match="kind"):
        store.cached_texts(Counting(), "other")


def test_in_process_lru_embeds_only_new_texts_and_evicts_least_recent() -> None:
    encoder = Counting()
    cache = CachedTextEncoder(None, encoder, memory=2)
    first = cache.encode_texts(["red", "blue"])
    np.testing.assert_array_equal(first, encoder.inner.encode_texts(["red", "blue"]))
    cache.encode_texts(["blue", "red"])
    assert encoder.texts == ["red", "blue"]
    cache.encode_texts(["green"])  # evicts "blue" (least recently used)
    cache.encode_texts(["red"])
    cache.encode_texts(["blue"])
    assert encoder.texts == ["red", "blue", "green", "blue"]
    assert len(cache) == 2


def test_recent_texts_do_not_reach_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _store(tmp_path) as store:
        cache = store.cached_texts(Counting())
        first = cache.encode_texts(["a red scene"])
        monkeypatch.setattr(store.text_vectors, "get", lambda *a, **k: pytest.fail("asked the store"))
        np.testing.assert_array_equal(cache.encode_texts(["a red scene"]), first)
