"""An encoder on another machine, spoken to over Roboflow Inference's CLIP HTTP API.

``POST {url}/clip/embed_image`` with ``{"image": [{"type": "base64", "value": ...}, ...],
"clip_version_id": "ViT-B-32"}`` answers ``{"embeddings": [[...], ...]}`` (at most
:data:`MAX_BATCH` images a request); ``POST {url}/clip/embed_text`` takes ``{"text": [...]}``.
Roboflow Inference serves this, and so does ``reelsearch encoder serve`` (any reelsearch
encoder; :mod:`web.encoder_api`). The server's embeddings are not normalised: this client
normalises them. Requests run ``concurrency`` at a time, each with a timeout, and are retried
with exponential backoff on connection errors, 429 and 5xx.

Use it with ``--encoder indexer.models.remote:RemoteEncoder`` and the environment:
``REELSEARCH_ENCODER_URL`` (required), ``REELSEARCH_ENCODER_MODEL`` (clip_version_id,
default ViT-B-32), ``REELSEARCH_ENCODER_API_KEY`` (optional).

Identity: a reelsearch server names its encoder (``GET /clip/reelsearch-info``), and the store
records that name, so vectors from the same model served remotely and loaded locally mix while
any other model is refused; a Roboflow server is recorded as ``remote-clip:<clip_version_id>``.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from indexer.errors import EncoderError
from indexer.models.encoder import l2_normalize

log = logging.getLogger(__name__)

#: Images (or texts) per request: Roboflow Inference's CLIP limit.
MAX_BATCH = 8
#: The reelsearch server's extension that names the model it serves.
INFO_ROUTE = "/clip/reelsearch-info"
URL_ENV, MODEL_ENV, KEY_ENV = "REELSEARCH_ENCODER_URL", "REELSEARCH_ENCODER_MODEL", "REELSEARCH_ENCODER_API_KEY"
_RETRY_STATUS = {429, 500, 502, 503, 504}


class RemoteEncoder:
    """The Encoder protocol over HTTP (see the module docstring for the API and environment)."""

    def __init__(self, url: str | None = None, *, clip_version_id: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, retries: int = 3, timeout: float = 30.0, backoff: float = 0.5) -> None:
        """Connect to ``url`` (else env REELSEARCH_ENCODER_URL) and learn the model's identity.

        Raises:
            EncoderError: no URL, bad settings, or the server cannot be reached / answers an error.
        """
        url = url or os.environ.get(URL_ENV, "").strip()
        if not url.startswith(("http://", "https://")):
            raise EncoderError(f"the remote encoder needs a server URL (http://HOST:PORT): set {URL_ENV}")
        if concurrency < 1 or retries < 0 or timeout <= 0 or backoff < 0:
            raise EncoderError("remote encoder: concurrency >= 1, retries >= 0, timeout > 0 and backoff >= 0")
        self.url = url.rstrip("/")
        self.clip_version_id = clip_version_id or os.environ.get(MODEL_ENV, "").strip() or "ViT-B-32"
        self.api_key = api_key if api_key is not None else (os.environ.get(KEY_ENV, "").strip() or None)
        self.concurrency, self.retries, self.timeout, self.backoff = concurrency, retries, timeout, backoff
        self.name, self.dim, self.image_size = self._identity()

    def _identity(self) -> tuple[str, int, int]:
        """(name, dim, image_size) from the reelsearch extension, else from a probe embedding."""
        try:
            info = self._request("GET", INFO_ROUTE, None)
            return str(info["name"]), int(info["dim"]), int(info["image_size"])
        except _NotFound:
            dim = len(self._post_texts(["a photo"])[0])
            return f"remote-clip:{self.clip_version_id}", dim, 224
        except (KeyError, TypeError, ValueError) as exc:
            raise EncoderError(f"remote encoder at {self.url}: malformed {INFO_ROUTE} answer ({exc})") from None

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Embed (N, S, S, 3) uint8 RGB images (sent as PNG, lossless); rows L2-normalised.

        Raises: ValueError (wrong shape), EncoderError (server unreachable or refusing).
        """
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"images must have shape (N, S, S, 3), got {arr.shape}")
        payloads = [_png_base64(image) for image in arr]
        return self._embed(payloads, self._post_images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; rows L2-normalised. Raises EncoderError (server unreachable or refusing)."""
        return self._embed(list(texts), self._post_texts)

    def _embed(self, items: list, post) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), np.float32)
        chunks = [items[i:i + MAX_BATCH] for i in range(0, len(items), MAX_BATCH)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            answers = list(pool.map(post, chunks))
        vectors = np.asarray([row for answer in answers for row in answer], dtype=np.float32)
        if vectors.shape != (len(items), self.dim):
            raise EncoderError(f"remote encoder at {self.url} returned shape {vectors.shape}, "
                               f"expected ({len(items)}, {self.dim})")
        return l2_normalize(vectors)

    def _post_images(self, values: list[str]) -> list[list[float]]:
        body = {"image": [{"type": "base64", "value": v} for v in values], "clip_version_id": self.clip_version_id}
        return self._embeddings("/clip/embed_image", body)

    def _post_texts(self, texts: list[str]) -> list[list[float]]:
        return self._embeddings("/clip/embed_text", {"text": texts, "clip_version_id": self.clip_version_id})

    def _embeddings(self, route: str, body: dict[str, Any]) -> list[list[float]]:
        if self.api_key:
            body = {**body, "api_key": self.api_key}
        answer = self._request("POST", route, body)
        if not isinstance(answer, dict) or not isinstance(answer.get("embeddings"), list):
            raise EncoderError(f"remote encoder at {self.url}{route}: answer has no 'embeddings' list")
        return answer["embeddings"]

    def _request(self, method: str, route: str, body: dict[str, Any] | None) -> Any:
        """One call with retries and backoff; the decoded JSON answer.

        Raises: _NotFound (404), EncoderError (refused, unreachable after retries, not JSON).
        """
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url + route, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise _NotFound(route) from None
                problem = f"HTTP {exc.code}: {_message(exc)}"
                if exc.code not in _RETRY_STATUS:
                    raise EncoderError(f"remote encoder at {self.url}{route} refused the request ({problem})") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = str(getattr(exc, "reason", exc))
            except ValueError as exc:
                raise EncoderError(f"remote encoder at {self.url}{route} answered something that is not JSON ({exc})") \
                    from None
            if attempt < self.retries:
                log.info("remote encoder %s%s: %s; retrying", self.url, route, problem)
                time.sleep(self.backoff * 2 ** attempt)
        raise EncoderError(f"remote encoder at {self.url}{route} failed after {self.retries + 1} attempt(s): {problem}")


class _NotFound(Exception):
    """The server has no such route (a Roboflow server has no reelsearch extension)."""


def _message(exc: urllib.error.HTTPError) -> str:
    """The server's error message: the JSON ``message``/``error`` field, else the body's start."""
    try:
        raw = exc.read()
        answer = json.loads(raw)
        return str(answer.get("message") or answer.get("error") or answer)
    except Exception:  # not JSON, or nothing to read
        return exc.reason if isinstance(exc.reason, str) else "no message"


def _png_base64(image: np.ndarray) -> str:
    """A uint8 RGB image as base64 PNG (lossless, so the server sees exactly these pixels)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(buffer, "PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
