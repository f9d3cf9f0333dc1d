"""SearchEngine on a real Store (SQLite + FAISS) with the fake colour encoder.

Two indexes: generated videos indexed by the real pipeline (times, scenes, cutoff, negatives,
image and "more like this" queries), and a store written directly with chosen segments
(category / restricted / duration filters, exact vs IVF).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import Scene, make_video

from indexer.labels.classify import LabelModel
from indexer.models.loading import encoder_spec
from indexer.errors import EncoderMismatchError, NotFoundError, QueryError
from indexer.models.colour import COLOURS, ColourEncoder
from indexer.pipeline.orchestrate import Indexer, IndexOptions
from indexer.store import NewVideo, Store
from indexer.labels.taxonomy import load_taxonomy
from indexer.types import Segment, ShotCut, VideoInfo
from search.engine import SearchEngine
from search.filters import Filters

FRAME = 1001 / 30000  # one frame at 29.97 fps


class CountingEncoder(ColourEncoder):
    """The colour encoder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode_texts(self, texts):
        self.texts.extend(texts)
        return super().encode_texts(texts)


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, taxonomy):
    """Three generated videos indexed by the pipeline: {name: GeneratedVideo}, store, encoder."""
    folder = tmp_path_factory.mktemp("videos")
    videos = {
        "a": make_video(folder / "a.mp4", [Scene("red", 90), Scene("blue", 60), Scene("green", 90)]),
        "b": make_video(folder / "b.mp4", [Scene("blue", 60), Scene("red", 45), Scene("yellow", 60)]),
        "c": make_video(folder / "c.mp4", [Scene("green", 120), Scene("cyan", 60)]),
    }
    encoder = CountingEncoder()
    store = Store.open(tmp_path_factory.mktemp("index"))
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    indexer = Indexer(store, encoder, LabelModel.build(taxonomy, encoder), IndexOptions(every=0.5))
    results = list(indexer.index_paths([folder]))
    assert [r.status for r in results] == ["indexed"] * 3
    ids = {r.path.stem: r.video_id for r in results}
    yield videos, ids, store, encoder
    store.close()


@pytest.fixture()
def engine(indexed, taxonomy):
    _, _, store, encoder = indexed
    return SearchEngine(store, encoder, taxonomy)


def _spans(response):
    return {r.video.path.stem: [(s.start, s.end) for s in r.scenes] for r in response.results}


def _truth(video, colour):
    return [(start, end) for c, start, end in video.scene_spans if c == colour]


def test_text_query_finds_the_right_scenes_with_the_right_times(indexed, engine):
    videos, _, _, _ = indexed
    response = engine.search("red")
    found = _spans(response)
    assert set(found) == {"a", "b"}
    for name in found:
        (start, end), = found[name]
        (true_start, true_end), = _truth(videos[name], "red")
        assert abs(start - true_start) <= FRAME and abs(end - true_end) <= FRAME
    best = response.results[0].scenes[0]
    assert best.start <= best.best_time <= best.end and best.score > 0.9
    assert response.message is None and response.cutoff.method == "background"


def test_query_that_matches_nothing_returns_nothing_and_says_so(engine):
    response = engine.search("giraffe")
    assert response.results == ()
    assert "giraffe" in response.message and response.best_score is not None
    # min_score overrides the relative cutoff with an absolute cosine
    assert len(engine.search("giraffe", min_score=-1.0).results) == 3


def test_negatives_remove_what_they_describe(engine):
    both = _spans(engine.search("red + blue"))
    assert set(both) == {"a", "b"} and len(both["a"]) == 1  # red and blue shots are adjacent: one scene
    without = engine.search("red + blue", negatives=("blue",))
    inline = engine.search("red + blue -blue")
    assert _spans(without) == _spans(inline)
    for result in without.results:
        for scene in result.scenes:
            assert scene.end - scene.start < 3.1  # only the red shot is left of the red+blue span
    assert _spans(without)["a"] == [(0.0, pytest.approx(3.003, abs=FRAME))]
    # a negative that describes a large share of the archive does not hide the positive matches
    blue = _spans(engine.search("blue -red"))
    assert set(blue) == {"a", "b"} and blue == _spans(engine.search("blue"))


def test_weights_change_the_ranking(engine):
    red_first = engine.search("red + 0.2 yellow").results[0].scenes
    yellow_heavy = engine.search("0.2 red + yellow").results
    assert max(s.score for s in red_first) > 0.9
    best = max((s for r in yellow_heavy for s in r.scenes), key=lambda s: s.score)
    assert best.best_time >= 3.5  # the best frame is in the yellow shot of b (3.5 s..5.5 s)


def test_image_query_and_more_like_this(indexed, engine, tmp_path):
    from PIL import Image

    videos, ids, _, _ = indexed
    image = tmp_path / "green.png"
    Image.new("RGB", (300, 200), COLOURS["green"]).save(image)
    assert set(_spans(engine.search_image(image))) == {"a", "c"}
    in_memory = Image.new("RGB", (64, 48), COLOURS["green"])  # what the web app passes
    assert _spans(engine.search_image(in_memory, filters=Filters(max_duration=7.0))) == {
        "c": [pytest.approx(videos["c"].scene_spans[0][1:], abs=FRAME)]}
    like = engine.search_like(ids["b"], 0.5)  # b's blue shot
    assert set(_spans(like)) == {"a", "b"}
    assert _spans(like)["a"] == [pytest.approx(videos["a"].scene_spans[1][1:], abs=FRAME)]
    # 2.9 s is in b's red shot (2.002-3.504 s); its only stored frame is 0.9 s away, the yellow
    # shot's first one 0.6 s: the red one stands for it
    red = engine.search_like(ids["b"], 2.9)
    assert set(_spans(red)) == {"a", "b"}
    assert _spans(red)["a"] == [pytest.approx(videos["a"].scene_spans[0][1:], abs=FRAME)]


def test_bad_image_queries_name_the_file(engine, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    with pytest.raises(QueryError, match="notes.png"):
        engine.search_image(fake)
    with pytest.raises(QueryError, match="missing.jpg"):
        engine.search_image(tmp_path / "missing.jpg")


def test_bad_queries_give_clear_errors(engine, indexed):
    _, ids, _, _ = indexed
    with pytest.raises(QueryError, match="empty"):
        engine.search("  ")
    with pytest.raises(QueryError, match="characters"):
        engine.search("red " * 100)
    with pytest.raises(NotFoundError, match="unknown category 'spaceships'"):
        engine.search("red", category="spaceships")
    with pytest.raises(NotFoundError, match="no video with id 999"):
        engine.search("red", video_id=999)
    with pytest.raises(NotFoundError):
        engine.search_like(999, 1.0)
    with pytest.raises(QueryError, match="outside"):
        engine.search_like(ids["a"], 99.0)
    with pytest.raises(QueryError, match="k"):
        engine.search("red", k=0)


def test_video_and_duration_filters(indexed, engine):
    _, ids, _, _ = indexed
    assert set(_spans(engine.search("red", video_id=ids["b"]))) == {"b"}
    assert set(_spans(engine.search("red", filters=Filters(video_id=ids["a"])))) == {"a"}
    assert set(_spans(engine.search("green", min_duration=7.0))) == {"a"}  # a is 8 s, c is 6 s
    assert set(_spans(engine.search("green", max_duration=7.0))) == {"c"}
    empty = engine.search("green", min_duration=100)
    assert empty.results == () and "filters" in empty.message


def test_encoder_of_another_dimension_is_refused(indexed, taxonomy):
    _, _, store, _ = indexed
    with pytest.raises(EncoderMismatchError, match="dimensions"):
        SearchEngine(store, ColourEncoder(dim=64), taxonomy)


def test_repeated_query_is_not_embedded_again(indexed, engine):
    _, _, _, encoder = indexed
    engine.search("cyan + 0.5 green")
    before = list(encoder.texts)
    engine.search("cyan + 0.5 green")
    engine.search("0.3 green + cyan")
    assert encoder.texts == before


# ------------------------------------------------------------------ directly written store


def _write(store, encoder, name: str, colours: list[str], labels: list[tuple[str, float, float]],
           every: float = 0.5) -> int:
    """A video whose second i shows colours[i] (two samples per second), cuts at colour changes."""
    times = np.arange(0, len(colours), every)
    images = np.array([np.full((32, 32, 3), COLOURS[colours[int(t)]], np.uint8) for t in times])
    cuts = [ShotCut(float(i), int(i * 90000), 1.0) for i in range(1, len(colours))
            if colours[i] != colours[i - 1]]
    info = VideoInfo(Path(f"/archive/{name}.mp4"), float(len(colours)), Fraction(25), 320, 240, 0, 0.0, "h264")
    new = NewVideo(info.path, f"hash-{name}", 1000, 0.0, info, every)
    segments = [Segment(label, start, end, 0.9) for label, start, end in labels]
    return store.write_video(new, times, (times * 90000).astype(np.int64),
                             encoder.encode_images(images), cuts, segments)


@pytest.fixture(scope="module")
def catalog_store(tmp_path_factory):
    encoder = ColourEncoder()
    store = Store.open(tmp_path_factory.mktemp("direct"))
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    ids = {
        "match": _write(store, encoder, "match", ["red"] * 4 + ["blue"] * 6, [("sports/football", 0, 4)]),
        "beer": _write(store, encoder, "beer", ["blue"] * 3 + ["red"] * 5, [("alcohol/beer", 3, 8)]),
        "long": _write(store, encoder, "long", ["green"] * 20 + ["red"] * 10, [("sports", 0, 30)]),
    }
    rng = np.random.default_rng(1)
    names = ["green", "blue", "cyan", "white", "black", "gray"]  # nothing like red
    for i in range(60):  # filler so the IVF index has enough vectors to train on
        colours = [names[j] for j in rng.integers(0, len(names), 12)]
        _write(store, encoder, f"filler{i:02d}", colours, [])
    yield store, encoder, ids
    store.close()


def test_category_filter_includes_children_and_restricted_filter(catalog_store, taxonomy):
    store, encoder, ids = catalog_store
    engine = SearchEngine(store, encoder, taxonomy)
    found = lambda **kw: {r.video.id for r in engine.search("red", **kw).results}  # noqa: E731
    assert found() == set(ids.values())
    assert found(category="sports") == {ids["match"], ids["long"]}  # sports/football is a child
    assert found(category="football") == {ids["match"]}
    assert found(restricted=True) == {ids["beer"]}
    assert found(restricted=False) == {ids["match"], ids["long"]}
    labels = {r.video.id: r.scenes[0].labels for r in engine.search("red").results}
    # a scene lists the categories present there, parents included (indexer.coverage)
    assert labels[ids["beer"]] == ("alcohol", "alcohol/beer")
    assert labels[ids["match"]] == ("sports", "sports/football")


def test_scenes_of_a_directly_written_video_snap_to_cuts(catalog_store, taxonomy):
    store, encoder, ids = catalog_store
    result = SearchEngine(store, encoder, taxonomy).search("red", video_id=ids["long"]).results[0]
    assert [(s.start, s.end) for s in result.scenes] == [(20.0, 30.0)]


def _write_vectors(store, name: str, vectors: np.ndarray, every: float = 0.5) -> int:
    times = np.arange(len(vectors)) * every
    info = VideoInfo(Path(f"/synthetic/{name}.mp4"), len(vectors) * every, Fraction(25), 320, 240, 0, 0.0, "h264")
    new = NewVideo(info.path, f"hash-{name}", 1000, 0.0, info, every)
    return store.write_video(new, times, (times * 90000).astype(np.int64), vectors, [], [])


def test_ivf_index_returns_the_same_top_results_as_exact(tmp_path, taxonomy):
    """Frames shaped like real ones (a few shot centres per video, small drift); "more like this"
    queries give the same videos, scores and scenes before and after optimize() builds IVF-SQ8."""
    encoder = ColourEncoder()
    rng = np.random.default_rng(7)
    with Store.open(tmp_path) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        for v in range(40):
            centres = rng.standard_normal((3, encoder.dim))
            frames = np.repeat(centres, 20, axis=0) + 0.15 * rng.standard_normal((60, encoder.dim))
            _write_vectors(store, f"v{v:02d}", frames / np.linalg.norm(frames, axis=1, keepdims=True))
        probes = [(int(v), float(t)) for v, t in zip(rng.integers(1, 41, 8), rng.uniform(0, 29, 8))]

        def top():
            engine = SearchEngine(store, encoder, taxonomy)
            return [[(r.video.id, round(r.score, 4), [(s.start, s.end) for s in r.scenes])
                     for r in engine.search_like(v, t, k=5).results] for v, t in probes]

        exact = top()
        store.optimize(force=True)
        assert store.index_info().kind == "ivf"
        assert top() == exact
        assert all(exact)


def _shot(rng, centre: np.ndarray, count: int, spread: float) -> np.ndarray:
    frames = centre + spread * rng.standard_normal((count, centre.shape[0]))
    return (frames / np.linalg.norm(frames, axis=1, keepdims=True)).astype(np.float32)


def test_more_like_this_finds_its_own_frame_in_a_small_index(tmp_path, taxonomy):
    """36 frames, most of one shot: every frame's own "more like this" query finds it."""
    encoder = ColourEncoder()
    rng = np.random.default_rng(5)
    street, harbour = rng.standard_normal((2, encoder.dim))
    with Store.open(tmp_path) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        street_id = _write_vectors(store, "street", _shot(rng, street, 24, 0.3))
        harbour_id = _write_vectors(store, "harbour", _shot(rng, harbour, 12, 0.3))
        engine = SearchEngine(store, encoder, taxonomy)
        for video_id, count in ((street_id, 24), (harbour_id, 12)):
            for t in np.arange(count) * 0.5:
                response = engine.search_like(video_id, float(t))
                mine = [r for r in response.results if r.video.id == video_id]
                assert mine and any(s.start <= t <= s.end for s in mine[0].scenes), (video_id, t, response.message)


def test_no_match_messages_fit_the_query_kind_and_echo_the_asked_time(indexed, engine, tmp_path):
    from PIL import Image

    _, ids, _, _ = indexed
    like = engine.search_like(ids["c"], 1.0, filters=Filters(video_id=ids["b"]))  # c's green shot, not in b
    assert like.results == () and "like c.mp4@1.000" in like.message
    assert "another shot or fewer filters" in like.message and "words" not in like.message
    image = tmp_path / "green.png"
    Image.new("RGB", (64, 48), COLOURS["green"]).save(image)
    picture = engine.search_image(image, filters=Filters(video_id=ids["b"]))
    assert picture.results == () and "closer to what the archive shows or fewer filters" in picture.message
    assert "words" not in picture.message
    text = engine.search("giraffe")
    assert text.results == () and "more concrete words" in text.message and "filters" not in text.message


def test_a_point_marked_for_feedback_stands_for_the_frame_on_screen(indexed):
    from search.teach.feedback import Mark, scene_frames

    _, ids, store, _ = indexed
    _, times, vectors = store.frames(ids["b"])
    red = int(np.flatnonzero(np.isclose(times, 60 * FRAME))[0])  # the red shot's first (and only) stored frame
    # 2.9 s: in the red shot, 0.6 s before the yellow shot's first frame and 0.9 s after the red one's
    np.testing.assert_array_equal(scene_frames(store, [Mark(ids["b"], 2.9, 2.9)]), vectors[[red]])
