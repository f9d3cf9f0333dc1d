"""Tests for indexer.labels.classify: prompt ensembles, multi-label scoring against background/negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.labels.classify import LOGIT_SCALE, LabelModel, prompt_model
from indexer.models.encoder import l2_normalize
from indexer.models.colour import COLOURS
from indexer.labels.taxonomy import Taxonomy, load_taxonomy, parse_taxonomy

COLOUR_TAXONOMY = """\
threshold = 0.5
background = ["a photo", "a video frame", "a person", "text on a screen"]

[[category]]
id = "red"
prompts = ["red", "a red scene"]

[[category]]
id = "blue"
prompts = ["blue", "a blue scene"]

[[category]]
id = "warm"
name = "Warm colours"
prompts = ["red", "orange", "yellow"]

[[category]]
id = "warm/orange"
prompts = ["orange", "an orange scene"]
negatives = ["red"]
"""


@pytest.fixture()
def colours() -> Taxonomy:
    return parse_taxonomy(COLOUR_TAXONOMY, Path("colours.toml"))


def frames(encoder, *names: str) -> np.ndarray:
    """Embeddings of solid-colour frames."""
    images = np.stack([np.full((32, 32, 3), COLOURS[n], dtype=np.uint8) for n in names])
    return encoder.encode_images(images)


def present_labels(model: LabelModel, vectors: np.ndarray) -> list[set[str]]:
    flags = model.present(model.scores(vectors))
    return [{label for label, on in zip(model.labels, row) if on} for row in flags]


def test_class_vectors_are_prompt_ensembles(colours, colour_encoder) -> None:
    model = LabelModel.build(colours, colour_encoder)
    assert model.labels == ("red", "blue", "warm", "warm/orange")
    prompts = colour_encoder.encode_texts(["red", "orange", "yellow"])
    expected = l2_normalize(prompts.mean(axis=0, keepdims=True))[0]
    np.testing.assert_allclose(model.class_vectors[2], expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(model.class_vectors, axis=1), 1.0, atol=1e-6)
    assert model.background.shape == (4, colour_encoder.dim)
    assert [len(n) for n in model.negatives] == [0, 0, 0, 1]


def test_red_frames_are_red_not_blue(colours, colour_encoder) -> None:
    model = LabelModel.build(colours, colour_encoder)
    found = present_labels(model, frames(colour_encoder, "red", "blue"))
    assert "red" in found[0] and "blue" not in found[0]
    assert "blue" in found[1] and "red" not in found[1]


def test_multi_label(colours, colour_encoder) -> None:
    model = LabelModel.build(colours, colour_encoder)
    red, orange = present_labels(model, frames(colour_encoder, "red", "orange"))
    assert {"red", "warm"} <= red
    assert {"warm", "warm/orange"} <= orange


def test_unrelated_frames_lose_to_background(colours, colour_encoder) -> None:
    model = LabelModel.build(colours, colour_encoder)
    scores = model.scores(frames(colour_encoder, "green", "gray", "white"))
    assert not model.present(scores).any()
    assert scores.max() < 0.5


def test_negative_suppresses_look_alike(colours, colour_encoder) -> None:
    with_negative = LabelModel.build(colours, colour_encoder)
    text = COLOUR_TAXONOMY.replace('negatives = ["red"]\n', "")
    without = LabelModel.build(parse_taxonomy(text, Path("x.toml")), colour_encoder)
    red = frames(colour_encoder, "red")
    col = with_negative.labels.index("warm/orange")
    assert without.present(without.scores(red))[0, col], "orange is close enough to red to be confused"
    assert not with_negative.present(with_negative.scores(red))[0, col]


def test_a_parent_is_decided_on_its_own_prompts(colour_encoder) -> None:
    text = """\
    background = ["a photo", "a video frame", "a person", "text on a screen"]
    [[category]]
    id = "colourful"
    prompts = ["something colourful"]
    [[category]]
    id = "colourful/red"
    prompts = ["red"]
    [[category]]
    id = "colourful/blue"
    prompts = ["blue"]
    """.replace("    ", "")
    model = LabelModel.build(parse_taxonomy(text, Path("x.toml")), colour_encoder)
    scores = model.scores(frames(colour_encoder, "red", "blue", "green"))
    present = model.present(scores)
    assert present[:, 1:].tolist() == [[True, False], [False, True], [False, False]]
    # no hierarchy here: a present child does not make its parent present (indexer.store.coverage
    # derives that at read time, so a curator's rejection of the child can take it back)
    assert not present[:, 0].any() and scores[:, 0].max() < 0.5
    assert model.present(np.array([[0.3, 0.7, 0.1]], dtype=np.float32)).tolist() == [[False, True, False]]


def hand_model(threshold: float, background: np.ndarray) -> LabelModel:
    """One label along e0 in 4-d, competitors given by hand."""
    return LabelModel(labels=("x",), class_vectors=np.eye(4, dtype=np.float32)[:1],
                      thresholds=np.array([threshold]), background=background.astype(np.float32),
                      negatives=(np.zeros((0, 4), dtype=np.float32),))


def vector_with_cosines(*cosines: float) -> np.ndarray:
    """A unit vector whose cosines with e0, e1, e2 are the given numbers."""
    v = np.zeros(4)
    v[: len(cosines)] = cosines
    v[3] = np.sqrt(1 - np.sum(np.square(cosines)))
    return v[None, :]


def test_clip_like_cosines_are_meaningful() -> None:
    """Real CLIP: everything ~0.2-0.3; a lead of a few hundredths over the background decides."""
    model = hand_model(0.5, np.eye(4)[1:3])
    clear = model.scores(vector_with_cosines(0.28, 0.22, 0.21))[0, 0]
    assert clear == pytest.approx(1 / (1 + np.exp(-6) + np.exp(-7)), rel=1e-5)
    assert model.present(np.array([[clear]]))[0, 0]
    assert model.scores(vector_with_cosines(0.22, 0.24, 0.21))[0, 0] < 0.2


def test_low_threshold_still_requires_beating_every_competitor() -> None:
    model = hand_model(0.3, np.eye(4)[1:3])
    # loses to one background prompt by 0.005 (p = 0.37 >= 0.3): not present, score capped below 0.3
    loses = model.scores(vector_with_cosines(0.25, 0.255, 0.0))
    assert loses[0, 0] < 0.3 and not model.present(loses)[0, 0]
    # beats both by 0.005 (p = 0.45 < 0.5 but >= 0.3): present
    wins = model.scores(vector_with_cosines(0.25, 0.245, 0.245))
    expected = 1 / (1 + 2 * np.exp(-0.005 * LOGIT_SCALE))
    assert wins[0, 0] == pytest.approx(expected, rel=1e-5) and model.present(wins)[0, 0]


def test_prompt_model_free_text(colours, colour_encoder) -> None:
    model = prompt_model(colour_encoder, "  a red car ", None, colours)
    assert model.labels == ("a red car",)
    assert len(model.background) == len(colours.background)
    assert present_labels(model, frames(colour_encoder, "red", "blue")) == [{"a red car"}, set()]
    against = prompt_model(colour_encoder, "red", ["orange"], colours)
    assert len(against.background) == 1
    assert against.present(against.scores(frames(colour_encoder, "red", "orange")))[:, 0].tolist() == [True, False]
    with pytest.raises(ValueError):
        prompt_model(colour_encoder, "  ", None, colours)
    with pytest.raises(ValueError):
        prompt_model(colour_encoder, "red", ["red"], colours)


def test_default_taxonomy_builds(colour_encoder) -> None:
    taxonomy = load_taxonomy()
    model = LabelModel.build(taxonomy, colour_encoder)
    scores = model.scores(frames(colour_encoder, *COLOURS))
    assert model.labels == taxonomy.ids
    assert scores.shape == (len(COLOURS), len(taxonomy)) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))
    beer = model.labels.index("alcohol/beer")
    assert model.thresholds[beer] == pytest.approx(0.4)
    assert model.thresholds[model.labels.index("vehicles/car")] == pytest.approx(taxonomy.threshold)


def test_shape_errors(colours, colour_encoder) -> None:
    model = LabelModel.build(colours, colour_encoder)
    with pytest.raises(ValueError):
        model.scores(np.zeros((2, colour_encoder.dim + 1), dtype=np.float32))
    with pytest.raises(ValueError):
        model.present(np.zeros((2, 3)))
    assert model.scores(np.zeros((0, colour_encoder.dim), dtype=np.float32)).shape == (0, 4)
