"""web/posters.py and /media/posters: a representative frame, never black or near-uniform."""

from __future__ import annotations

import io

import numpy as np
import pytest
from media import Scene, make_video
from PIL import Image
from webfixtures import *  # noqa: F401,F403  (fixtures)

from web.posters import Look, choose_poster, look_of, representative_order


def _image(kind: str) -> Image.Image:
    rng = np.random.default_rng(0)
    if kind == "black":
        return Image.new("RGB", (64, 36))
    if kind == "grey":
        return Image.new("RGB", (64, 36), (128, 128, 128))
    return Image.fromarray(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8))


def test_a_frame_inside_a_transition_is_no_poster():
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0.8, 0.6]], dtype=np.float32)
    order = representative_order(vectors)
    times = [0.0, 1.0, 2.0, 3.0]
    looks = {t: Look(spread=60, median=100) for t in times}
    best = times[order[0]]
    dissolve = (best - 0.2, best + 0.2)
    assert choose_poster(times, vectors, looks.__getitem__, avoid=[dissolve]) == times[order[1]]
    assert choose_poster(times, vectors, looks.__getitem__, avoid=[(best, best)]) == best  # a cut: fine
    everything = [(-1.0, 4.0)]  # only blends: still a poster
    assert choose_poster(times, vectors, looks.__getitem__, avoid=everything) == best


def test_look_tells_black_and_uniform_from_detail():
    assert look_of(_image("black")).black
    assert look_of(_image("grey")).uniform and not look_of(_image("grey")).black
    assert not look_of(_image("detail")).uniform


def test_the_frame_nearest_the_mean_wins_unless_it_is_uniform():
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0.8, 0.6]], dtype=np.float32)
    order = representative_order(vectors)
    assert order[0] in (1, 2) and order[-1] == 0
    times = [0.0, 1.0, 2.0, 3.0]
    looks = {t: Look(spread=60, median=100) for t in times}
    assert choose_poster(times, vectors, looks.__getitem__) == times[order[0]]
    looks[times[order[0]]] = Look(spread=3, median=5)  # black: skipped
    assert choose_poster(times, vectors, looks.__getitem__) == times[order[1]]


def test_all_uniform_prefers_a_frame_that_is_not_black():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    looks = {0.0: Look(2, 0), 1.0: Look(2, 0), 2.0: Look(2, 200)}
    assert choose_poster([0.0, 1.0, 2.0], vectors, looks.__getitem__) == 2.0
    with pytest.raises(ValueError):
        choose_poster([0.0], vectors, looks.__getitem__)


def _get(app, url: str) -> tuple[int, str, bytes]:
    response = app.test_client().get(url)
    try:
        return response.status_code, response.mimetype, response.get_data()
    finally:
        response.close()


def test_poster_route_skips_a_black_opening(tmp_path, web_data):
    """A video that opens on 2 s of black: the poster comes from the picture after it."""
    from indexer.labels.classify import LabelModel
    from indexer.labels.taxonomy import load_taxonomy
    from indexer.models.colour import ColourEncoder
    from indexer.models.loading import encoder_spec
    from indexer.pipeline.orchestrate import Indexer, IndexOptions
    from indexer.store import Store

    media = tmp_path / "media"
    media.mkdir()
    make_video(media / "ad.mp4", [Scene("black", 60, marker=False), Scene("red", 30), Scene("black", 10, marker=False)])
    data = WebData(tmp_path / "index", web_data.taxonomy, {}, {})
    encoder = ColourEncoder()
    with Store.open(data.data_dir) as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        labels = LabelModel.build(load_taxonomy(web_data.taxonomy), encoder)
        (result,) = Indexer(store, encoder, labels, IndexOptions(every=0.25)).index_paths([media])
    app = make_app(data)
    try:
        first, again, missing = (_get(app, f"/media/posters/{vid}.jpg") for vid in (result.video_id, result.video_id, 999))
        assert first[0] == 200 and first[1] == "image/jpeg"
        look = look_of(Image.open(io.BytesIO(first[2])))
        assert not look.black and look.median > 40  # the red part, not the black opening
        assert again[2] == first[2] and missing[0] == 404
    finally:
        app.extensions["reelsearch"].close()
