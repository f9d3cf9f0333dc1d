"""The remote encoder client against real HTTP servers: ``reelsearch encoder serve`` in a
subprocess (same vectors as the local encoder), and in-thread servers that fail, refuse,
lack the reelsearch extension (as Roboflow Inference does) or return unnormalised vectors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
from werkzeug.serving import make_server

from indexer.errors import EncoderError, EncoderMismatchError
from indexer.models.colour import ColourEncoder
from indexer.models.remote import INFO_ROUTE, MAX_BATCH, RemoteEncoder
from web.encoder_api import create_encoder_app


def _images(n: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(n)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


class Served:
    """A WSGI app on 127.0.0.1 in a thread; ``calls`` lists the paths requested."""

    def __init__(self, app, fail_first: int = 0, hide_info: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_left = fail_first

        def wrapper(environ, start_response):
            path = environ["PATH_INFO"]
            self.calls.append(path)
            if hide_info and path == INFO_ROUTE:
                start_response("404 NOT FOUND", [("Content-Type", "application/json")])
                return [b'{"message": "no such route"}']
            if self.fail_left and path.startswith("/clip/embed"):
                self.fail_left -= 1
                start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/json")])
                return [b'{"message": "busy"}']
            return app(environ, start_response)

        self.server = make_server("127.0.0.1", 0, wrapper, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def served():
    servers = []

    def start(app, **kw) -> Served:
        servers.append(Served(app, **kw))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class ScaledColour(ColourEncoder):
    """The colour encoder returning vectors of length 3, as servers return unnormalised ones."""

    def encode_images(self, images):
        return 3.0 * super().encode_images(images)

    def encode_texts(self, texts):
        return 3.0 * super().encode_texts(texts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_client_against_encoder_serve_subprocess_gives_the_local_vectors():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from indexer.cli.main import main; main()", "encoder", "serve", "--port", str(port),
                             "--encoder", "indexer.models.colour:ColourEncoder"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + INFO_ROUTE, timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "encoder server did not come up"
                time.sleep(0.2)
        remote, local = RemoteEncoder(url), ColourEncoder()
        assert (remote.name, remote.dim, remote.image_size) == (local.name, local.dim, local.image_size)
        images = _images(2 * MAX_BATCH + 3)
        np.testing.assert_allclose(remote.encode_images(images), local.encode_images(images), atol=1e-6)
        texts = ["a red car", "green grass", "nothing coloured"]
        np.testing.assert_allclose(remote.encode_texts(texts), local.encode_texts(texts), atol=1e-6)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_batches_of_at_most_eight_sent_concurrently_and_normalised(served):
    server = served(create_encoder_app(ScaledColour()))
    remote = RemoteEncoder(server.url, concurrency=3)
    vectors = remote.encode_images(_images(20))
    assert server.calls.count("/clip/embed_image") == 3  # 8 + 8 + 4
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors, ColourEncoder().encode_images(_images(20)), atol=1e-6)
    assert remote.encode_images(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, remote.dim)


def test_retries_with_backoff_after_server_errors(served):
    server = served(create_encoder_app(ColourEncoder()), fail_first=2)
    remote = RemoteEncoder(server.url, retries=2, backoff=0.01)
    np.testing.assert_allclose(remote.encode_texts(["red"]), ColourEncoder().encode_texts(["red"]), atol=1e-6)
    assert server.calls.count("/clip/embed_text") == 3


def test_gives_up_with_a_clear_error_after_retries(served):
    server = served(create_encoder_app(ColourEncoder()), fail_first=10)
    remote = RemoteEncoder(server.url, retries=1, backoff=0.0)
    with pytest.raises(EncoderError, match=r"failed after 2 attempt\(s\): HTTP 503: busy"):
        remote.encode_texts(["red"])


def test_unreachable_server_is_one_clear_error():
    port = _free_port()
    with pytest.raises(EncoderError, match=f"127.0.0.1:{port}.*failed after 1 attempt"):
        RemoteEncoder(f"http://127.0.0.1:{port}", retries=0)


def test_missing_url_says_which_variable_to_set(monkeypatch):
    monkeypatch.delenv("REELSEARCH_ENCODER_URL", raising=False)
    with pytest.raises(EncoderError, match="REELSEARCH_ENCODER_URL"):
        RemoteEncoder()


def test_api_key_is_required_when_the_server_has_one(served):
    server = served(create_encoder_app(ColourEncoder(), api_key="s3cret"))
    with pytest.raises(EncoderError, match="refused the request.*401.*api_key"):
        RemoteEncoder(server.url, api_key="wrong").encode_texts(["red"])
    assert RemoteEncoder(server.url, api_key="s3cret").encode_texts(["red"]).shape == (1, 32)


def test_roboflow_server_without_the_extension_is_named_by_clip_version(served, tmp_path, monkeypatch):
    server = served(create_encoder_app(ScaledColour()), hide_info=True)
    monkeypatch.setenv("REELSEARCH_ENCODER_URL", server.url)
    remote = RemoteEncoder(clip_version_id="ViT-L-14")
    assert (remote.name, remote.dim, remote.image_size) == ("remote-clip:ViT-L-14", 32, 224)
    # 224-pixel images are resized by the server to what its model takes
    assert remote.encode_images(_images(2, 224)).shape == (2, 32)
    from indexer.models.loading import encoder_spec
    from indexer.store import Store

    with Store.open(tmp_path / "index") as store:
        store.bind_encoder("fake:colour-v1", 32, encoder_spec(ColourEncoder()))
        with pytest.raises(EncoderMismatchError):
            store.bind_encoder(remote.name, remote.dim, encoder_spec(remote))


def test_loads_as_a_plugin_from_the_environment(served, monkeypatch):
    from indexer.models.loading import encoder_spec, load_from_spec, load_plugin

    server = served(create_encoder_app(ColourEncoder()))
    monkeypatch.setenv("REELSEARCH_ENCODER_URL", server.url)
    remote = load_plugin("indexer.models.remote:RemoteEncoder")
    spec = encoder_spec(remote)
    assert spec == {"kind": "plugin", "plugin": "indexer.models.remote:RemoteEncoder",
                    "name": "fake:colour-v1", "dim": 32}
    assert load_from_spec(spec).name == "fake:colour-v1"
