"""The encoder server's HTTP API (Flask test client): shapes, limits, refused image types."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from indexer.models.colour import ColourEncoder
from web.encoder_api import create_encoder_app


def _b64(picture: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture()
def client():
    return create_encoder_app(ColourEncoder()).test_client()


def test_embeds_images_of_any_size_after_resize_and_crop(client):
    red = Image.new("RGB", (300, 200), (220, 30, 30))
    answer = client.post("/clip/embed_image", json={"image": [{"type": "base64", "value": _b64(red, "JPEG")}],
                                                    "clip_version_id": "ViT-B-32"})
    assert answer.status_code == 200
    vector = np.array(answer.get_json()["embeddings"])
    expected = ColourEncoder().encode_texts(["red"])
    assert vector.shape == (1, 32) and float(vector[0] @ expected[0]) > 0.99


def test_single_image_object_and_single_text_string_are_accepted(client):
    blue = Image.new("RGB", (32, 32), (30, 40, 220))
    assert len(client.post("/clip/embed_image", json={"image": {"type": "base64", "value": _b64(blue)}})
               .get_json()["embeddings"]) == 1
    assert len(client.post("/clip/embed_text", json={"text": "blue"}).get_json()["embeddings"]) == 1


@pytest.mark.parametrize("kind", ["numpy", "url", "file"])
def test_refuses_numpy_and_url_image_types(client, kind):
    answer = client.post("/clip/embed_image", json={"image": [{"type": kind, "value": "http://169.254.169.254/"}]})
    assert answer.status_code == 400
    assert f"image type '{kind}' is refused" in answer.get_json()["message"]


def test_refuses_more_than_eight_images_and_bad_values(client):
    one = {"type": "base64", "value": _b64(Image.new("RGB", (8, 8)))}
    assert client.post("/clip/embed_image", json={"image": [one] * 9}).status_code == 400
    bad = client.post("/clip/embed_image", json={"image": [{"type": "base64", "value": "not base64!"}]})
    assert (bad.status_code, bad.get_json()["message"]) == (400, "image value is not valid base64")
    text = client.post("/clip/embed_image", json={"image": [{"type": "base64", "value": base64.b64encode(b"hello").decode()}]})
    assert text.status_code == 400 and "not a picture" in text.get_json()["message"]
    assert client.post("/clip/embed_text", json={"text": [1, 2]}).status_code == 400
    assert client.post("/clip/embed_text", data="text").status_code == 400


def test_info_names_the_served_model(client):
    assert client.get("/clip/reelsearch-info").get_json() == {"name": "fake:colour-v1", "dim": 32, "image_size": 32}
