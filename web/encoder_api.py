"""Any reelsearch encoder served over Roboflow Inference's CLIP HTTP API (``reelsearch encoder serve``).

``POST /clip/embed_image``: ``{"image": [{"type": "base64", "value": ...}, ...]}`` (or one such
object) -> ``{"embeddings": [[...], ...]}``, at most ``max_batch`` images; ``POST /clip/embed_text``:
``{"text": "..." | [...]}`` -> ``{"embeddings": ...}``; ``GET /clip/reelsearch-info`` names the model
(``name``, ``dim``, ``image_size``) so clients record its identity. Only base64 images are
accepted: the pickled-numpy type (code execution) and URLs (requests to arbitrary hosts) are
refused. Images are decoded with a pixel limit, resized and centre-cropped to the encoder's size.
With an ``api_key``, every embedding request must carry it (JSON field ``api_key``).
Embeddings are returned as the encoder makes them; clients normalise.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import threading
from typing import Any

import numpy as np
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from indexer.models.encoder import Encoder

MAX_PIXELS = 40_000_000
FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"}


class Refused(Exception):
    """A request this server will not serve; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_encoder_app(encoder: Encoder, *, api_key: str | None = None, max_batch: int = 8) -> Flask:
    """A Flask app serving ``encoder`` under the CLIP API (one embedding at a time: encoders
    need not be thread-safe)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    lock = threading.Lock()

    def authorised(body: dict[str, Any]) -> None:
        given = body.get("api_key") or request.args.get("api_key") or ""
        if api_key and not hmac.compare_digest(str(given).encode(), api_key.encode()):
            raise Refused(401, "missing or wrong api_key")

    def answer(vectors: np.ndarray):
        return jsonify({"embeddings": np.asarray(vectors, dtype=np.float32).tolist()})

    @app.get("/clip/reelsearch-info")
    def info():
        return jsonify({"name": encoder.name, "dim": int(encoder.dim), "image_size": int(encoder.image_size)})

    @app.post("/clip/embed_image")
    def embed_image():
        body = _json_body()
        authorised(body)
        items = body.get("image")
        items = [items] if isinstance(items, dict) else items
        if not isinstance(items, list) or not items:
            raise Refused(400, "'image' must be an image object or a non-empty list of them")
        if len(items) > max_batch:
            raise Refused(400, f"at most {max_batch} images per request, got {len(items)}")
        images = np.stack([_decode(item, encoder.image_size) for item in items])
        with lock:
            return answer(encoder.encode_images(images))

    @app.post("/clip/embed_text")
    def embed_text():
        body = _json_body()
        authorised(body)
        texts = body.get("text")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise Refused(400, "'text' must be a string or a non-empty list of strings")
        if len(texts) > max_batch:
            raise Refused(400, f"at most {max_batch} texts per request, got {len(texts)}")
        with lock:
            return answer(encoder.encode_texts(texts))

    @app.errorhandler(Refused)
    def refused(exc: Refused):
        return jsonify({"message": str(exc)}), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"message": exc.description}), exc.code

    return app


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body


def _decode(item: Any, size: int) -> np.ndarray:
    """A base64 image object -> (size, size, 3) uint8 RGB, resized and centre-cropped.

    Raises: Refused (another type, bad base64, not an image, too many pixels).
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(item, dict) or item.get("type") != "base64":
        kind = item.get("type") if isinstance(item, dict) else type(item).__name__
        raise Refused(400, f"image type {kind!r} is refused: send {{'type': 'base64', 'value': ...}} "
                           "(numpy and url images are not accepted)")
    try:
        raw = base64.b64decode(str(item.get("value", "")), validate=True)
        picture = Image.open(io.BytesIO(raw))
    except (binascii.Error, ValueError):
        raise Refused(400, "image value is not valid base64") from None
    except UnidentifiedImageError:
        raise Refused(400, "image value is not a picture (JPEG, PNG, WebP, BMP, GIF or TIFF)") from None
    if picture.format not in FORMATS:
        raise Refused(400, f"image format {picture.format} is not accepted")
    if picture.width * picture.height > MAX_PIXELS:
        raise Refused(400, f"image too large: {picture.width}x{picture.height} pixels")
    picture = picture.convert("RGB")
    if picture.size != (size, size):
        scale = size / min(picture.size)
        w, h = max(size, round(picture.width * scale)), max(size, round(picture.height * scale))
        picture = picture.resize((w, h), Image.BICUBIC)
        left, top = (w - size) // 2, (h - size) // 2
        picture = picture.crop((left, top, left + size, top + size))
    return np.asarray(picture, dtype=np.uint8)
