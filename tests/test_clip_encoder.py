"""Tests for indexer.models.clip_encoder (with clip_weights, clip_text) through the real open_clip code path,
with a tiny random model.

Nothing here downloads: the hub is either monkeypatched or forced offline.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from indexer.models import weights as clip_weights
from indexer.models.clip_encoder import CausalTextTower, OpenClipEncoder, resolve_checkpoint
from indexer.models.loading import choose_encoder, encoder_spec, load_encoder, load_from_spec, load_plugin
from indexer.errors import EncoderError

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["a dog", "a red car driving on a mountain road at night", "", "fireworks over a river, photo"]
HUB_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoders built without ``threads=`` (load_encoder, load_from_spec) follow OMP_NUM_THREADS."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def tiny() -> OpenClipEncoder:
    """The tiny random model (one torch thread), shared by the read-only tests."""
    return OpenClipEncoder.tiny()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Seven random 64x64 RGB frames."""
    return np.random.default_rng(7).integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)


@pytest.fixture()
def checkpoint(tmp_path: Path, tiny: OpenClipEncoder) -> Path:
    """The tiny model's weights saved as a torch checkpoint file."""
    path = tmp_path / "tiny.pt"
    torch.save(tiny._model.state_dict(), path)
    return path


@pytest.fixture()
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty Hugging Face cache and an unreachable hub; any download attempt fails the test."""
    import huggingface_hub

    def no_download(*args: object, **kwargs: object) -> str:
        raise AssertionError("tests must never download")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setattr(clip_weights, "_reachable", lambda url, timeout=3.0: False)


def test_images_are_unit_float32(tiny: OpenClipEncoder, images: np.ndarray) -> None:
    vectors = tiny.encode_images(images)
    assert vectors.shape == (7, tiny.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert tiny.dim == 32 and tiny.image_size == 64
    assert np.abs(vectors[0] - vectors[1]).max() > 1e-3  # different frames, different vectors
    read_only = images.copy()
    read_only.flags.writeable = False  # e.g. np.frombuffer: must work without a torch warning
    np.testing.assert_array_equal(tiny.encode_images(read_only), vectors)


def test_texts_are_unit_float32(tiny: OpenClipEncoder) -> None:
    vectors = tiny.encode_texts(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert tiny.encode_texts([]).shape == (0, 32)
    assert tiny.encode_images(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 32)


def test_same_seed_same_model_and_name(tiny: OpenClipEncoder, images: np.ndarray) -> None:
    again = OpenClipEncoder.tiny()
    assert again.name == tiny.name and tiny.name.startswith("open_clip:reelsearch-tiny:")
    np.testing.assert_array_equal(again.encode_images(images), tiny.encode_images(images))
    # texts batch by token length, so float sums may differ in the last bits between batches
    np.testing.assert_allclose(again.encode_texts(TEXTS), tiny.encode_texts(TEXTS), atol=1e-6)
    assert OpenClipEncoder.tiny(seed=1).name != tiny.name


def test_batches_match_single_images(images: np.ndarray) -> None:
    batched = OpenClipEncoder.tiny(batch_size=3).encode_images(images)
    single = np.concatenate([OpenClipEncoder.tiny(batch_size=1).encode_images(images[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_channels_last_matches_contiguous(tiny: OpenClipEncoder, images: np.ndarray) -> None:
    plain = OpenClipEncoder.tiny(channels_last=False)
    np.testing.assert_allclose(plain.encode_images(images), tiny.encode_images(images), atol=1e-5)


def test_preprocessing_uses_the_model_mean_and_std(tiny: OpenClipEncoder, images: np.ndarray) -> None:
    cfg = tiny._model.visual.preprocess_cfg
    mean, std = (torch.tensor(cfg[key]).view(1, 3, 1, 1) for key in ("mean", "std"))
    reference = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - mean) / std
    torch.testing.assert_close(tiny._preprocess(images), reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 32, 32, 3), np.uint8), np.zeros((2, 64, 64, 3), np.float32), np.zeros((64, 64, 3), np.uint8)]
)
def test_bad_image_arrays_are_refused(tiny: OpenClipEncoder, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        tiny.encode_images(bad)


def test_truncated_text_tower_equals_full(tiny: OpenClipEncoder) -> None:
    full = OpenClipEncoder.tiny(fast_text=False)
    fast = OpenClipEncoder.tiny()
    texts = TEXTS + ["x " * 100]  # the last one fills the whole context
    fast.encode_texts(texts[:1])  # first batch checks the short path against the full one
    assert fast.fast_text and fast._text is not None and fast._text.verified
    np.testing.assert_allclose(fast.encode_texts(texts), full.encode_texts(texts), atol=1e-5)
    assert not full.fast_text


def test_short_path_really_runs_short(tiny: OpenClipEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = OpenClipEncoder.tiny()
    fast.encode_texts(["check"])
    lengths: list[int] = []
    blocks = fast._model.transformer
    original = blocks.forward

    def recording_forward(x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        lengths.append(x.shape[1])
        return original(x, attn_mask)

    monkeypatch.setattr(blocks, "forward", recording_forward)
    fast.encode_texts(["a dog", "a cat on a mat"])
    assert lengths == [int(fast._tokenizer(["a cat on a mat"]).argmax()) + 1]


def test_non_causal_towers_are_not_truncated(tiny: OpenClipEncoder) -> None:
    assert CausalTextTower.find(tiny._model) is not None
    bidirectional = copy.deepcopy(tiny._model)
    bidirectional.attn_mask = torch.zeros_like(bidirectional.attn_mask)
    assert CausalTextTower.find(bidirectional) is None
    last_pool = copy.deepcopy(tiny._model)
    last_pool.text_pool_type = "last"
    assert CausalTextTower.find(last_pool) is None


def test_disagreeing_short_path_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = OpenClipEncoder.tiny(fast_text=False).encode_texts(TEXTS)
    encoder = OpenClipEncoder.tiny()
    monkeypatch.setattr(CausalTextTower, "encode", lambda self, tokens: torch.ones(len(tokens), 32))
    np.testing.assert_allclose(encoder.encode_texts(TEXTS), reference, atol=1e-5)
    assert not encoder.fast_text


def test_repeated_texts_are_embedded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = OpenClipEncoder.tiny()
    embedded: list[list[str]] = []
    real = encoder._embed_texts
    monkeypatch.setattr(encoder, "_embed_texts", lambda texts: embedded.append(list(texts)) or real(texts))
    vectors = encoder.encode_texts(["a", "b", "a"])
    assert embedded == [["a", "b"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_lower_precision_agrees_with_fp32(tiny: OpenClipEncoder, images: np.ndarray, precision: str) -> None:
    mean, low = tiny.agreement(images, precision)
    assert mean > 0.98 and low > 0.95
    lower = OpenClipEncoder.tiny(precision=precision)
    assert lower.name == tiny.name  # interchangeable vectors: same space, same name
    assert lower.image_precision == precision and precision in lower.description
    vectors = lower.encode_images(images)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * tiny.encode_images(images)).sum(axis=1).min() > 0.95
    assert not np.array_equal(vectors, tiny.encode_images(images))  # really computed otherwise
    assert lower.spec()["precision"] == precision
    assert OpenClipEncoder.from_spec(lower.spec()).image_precision == precision
    np.testing.assert_allclose(tiny.encode_texts(["a red car"]), lower.encode_texts(["a red car"]), atol=1e-5)
    with pytest.raises(ValueError, match="fp32"):
        lower.agreement(images, "fp32")


@pytest.mark.parametrize("native, int8, expected", [("1", True, "bf16"), ("1", False, "bf16"),
                                                   ("0", True, "int8"), ("0", False, "fp32")])
def test_auto_precision_is_bf16_where_native_else_int8_where_possible(
    monkeypatch: pytest.MonkeyPatch, native: str, int8: bool, expected: str
) -> None:
    from indexer.models import onnx_image
    from indexer.models import precision as clip_precision
    monkeypatch.setenv(onnx_image.ENV, "0")  # torch's own choice (the onnxruntime tower: test_onnx_image.py)
    monkeypatch.setenv(clip_precision.NATIVE_BF16_ENV, native)  # the probe, overridden as benchmarks do
    assert clip_precision.int8_engine() is bool({"x86", "fbgemm", "onednn"} & set(torch.backends.quantized.supported_engines))
    monkeypatch.setattr(clip_precision, "int8_engine", lambda: int8)
    assert clip_precision.native_bf16() is (native == "1")
    encoder = OpenClipEncoder.tiny(precision="auto")
    assert encoder.image_precision == expected
    assert encoder.spec()["precision"] == "auto"  # another machine decides for itself
    dtype = torch.bfloat16 if expected == "bf16" else torch.float32
    assert clip_precision.input_dtype(encoder._model.visual) == dtype


def test_unknown_precision_is_one_line_error() -> None:
    with pytest.raises(EncoderError, match="unknown precision 'fp8'; choose one of auto, fp32, bf16, int8"):
        OpenClipEncoder.tiny(precision="fp8")


def test_precision_alone_keeps_the_recorded_model(tiny: OpenClipEncoder) -> None:
    choice = {"model": None, "pretrained": None, "weights": None, "plugin": None, "precision": "int8"}
    encoder = choose_encoder(tiny.spec(), choice)  # not the default ViT-B-32 download
    assert encoder.name == tiny.name and encoder.image_precision == "int8"


def test_old_int8_spec_still_loads(tiny: OpenClipEncoder) -> None:
    spec = {key: value for key, value in tiny.spec().items() if key != "precision"}
    assert OpenClipEncoder.from_spec({**spec, "int8": True}).image_precision == "int8"


def test_local_checkpoint_name_is_content_addressed(tiny: OpenClipEncoder, checkpoint: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    loaded = OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=checkpoint, threads=1)
    assert loaded.name == tiny.name
    safe = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny._model.state_dict().items()}, str(safe))
    assert OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=safe, threads=1).name == tiny.name
    np.testing.assert_allclose(loaded.encode_texts(TEXTS), tiny.encode_texts(TEXTS), atol=1e-6)


def test_spec_round_trip(tiny: OpenClipEncoder, checkpoint: Path, images: np.ndarray) -> None:
    spec = json.loads(json.dumps(encoder_spec(tiny)))
    assert spec["kind"] == "open_clip" and spec["model"] == "reelsearch-tiny"
    again = load_from_spec(spec)
    np.testing.assert_array_equal(again.encode_images(images), tiny.encode_images(images))
    from_file = OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=checkpoint, threads=1)
    file_spec = encoder_spec(from_file)
    assert file_spec["weights"] == str(checkpoint.resolve())
    assert load_from_spec(file_spec).full().name == tiny.name


def test_spec_with_absent_weights_file(
    tiny: OpenClipEncoder, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {**encoder_spec(tiny), "weights": "/nowhere/tiny.pt"}
    spec.pop("seed")
    monkeypatch.delenv("REELSEARCH_WEIGHTS", raising=False)
    with pytest.raises(EncoderError, match="--weights FILE or REELSEARCH_WEIGHTS"):
        load_from_spec(spec).encode_texts(["a photo"])  # the model loads (and fails) on first use
    monkeypatch.setenv("REELSEARCH_WEIGHTS", str(checkpoint))
    assert load_from_spec(spec).full().name == tiny.name
    monkeypatch.delenv("REELSEARCH_WEIGHTS")
    with pytest.raises(EncoderError, match="the index was built with encoder"):
        load_from_spec(tiny.spec() | {"seed": 3}).encode_texts(["a photo"])  # other weights, same recorded name


def test_offline_without_weights_says_what_to_download(no_hub: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELSEARCH_WEIGHTS", raising=False)
    with pytest.raises(EncoderError) as info:
        load_encoder()
    message = str(info.value)
    assert "\n" not in message
    for part in ("--weights FILE", "REELSEARCH_WEIGHTS", HUB_REPO, "open_clip_model.safetensors", "hf download",
                 "--encoder indexer.models.colour:ColourEncoder"):
        assert part in message
    assert load_plugin(message.rsplit("--encoder ", 1)[1]).name == "fake:colour-v1"  # the named encoder loads


def test_cached_hub_file_is_used_without_network(no_hub: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub

    cached = tmp_path / "open_clip_model.safetensors"
    cached.write_bytes(b"weights")
    asked: list[tuple[str, str]] = []

    def fake_cache(repo: str, name: str, **kwargs: object) -> str | None:
        asked.append((repo, name))
        return str(cached) if name.endswith(".safetensors") else None

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", fake_cache)
    ckpt = resolve_checkpoint("ViT-B-32", "laion2b_s34b_b79k", None)
    assert ckpt.path == cached and asked == [(HUB_REPO, "open_clip_model.safetensors")]
    assert ckpt.preprocess["mean"][0] == pytest.approx(0.48145466) and not ckpt.quick_gelu
    assert resolve_checkpoint("ViT-B-32", "openai", None).quick_gelu  # the tag's activation is carried over


def test_download_prefers_safetensors_then_bin(no_hub: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub
    from huggingface_hub import errors

    missing = getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)
    asked: list[str] = []

    def fake_download(repo: str, name: str, **kwargs: object) -> str:
        asked.append(name)
        if name.endswith(".safetensors"):
            raise missing.__new__(missing)
        return str(tmp_path / name)

    monkeypatch.setattr(clip_weights, "_reachable", lambda url, timeout=3.0: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert resolve_checkpoint("ViT-B-32", "laion2b_s34b_b79k", None).path == tmp_path / "open_clip_pytorch_model.bin"
    assert asked == ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]


@pytest.mark.parametrize(
    ("model", "pretrained", "expected"),
    [("no-such-model", None, "unknown open_clip model"), ("ViT-B-32", "no_such_tag", "known tags: ")],
)
def test_unknown_model_or_tag(model: str, pretrained: str | None, expected: str) -> None:
    with pytest.raises(EncoderError, match=expected):
        resolve_checkpoint(model, pretrained, None)


def test_bad_weights_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELSEARCH_WEIGHTS", str(tmp_path / "missing.pt"))
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder(model="reelsearch-tiny")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    other = tmp_path / "other.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, other)
    for path in (junk, other):
        with pytest.raises(EncoderError) as info:
            OpenClipEncoder("reelsearch-tiny", pretrained=None, weights=path, threads=1)
        assert "\n" not in str(info.value) and "reelsearch-tiny" in str(info.value)


def test_reachability_probe_answers_quickly() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert clip_weights._reachable(f"http://127.0.0.1:{server.server_port}/", timeout=2)  # 501 is an answer
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not clip_weights._reachable(f"http://127.0.0.1:{port}/", timeout=2)


@pytest.mark.slow
def test_offline_default_fails_fast_in_a_fresh_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REELSEARCH_WEIGHTS"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    code = (
        "from indexer.models.loading import load_encoder\nfrom indexer.errors import EncoderError\n"
        "try:\n    load_encoder()\nexcept EncoderError as e:\n    print('ERROR', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.stdout.startswith("ERROR no laion2b_s34b_b79k weights") and out.stdout.count("\n") == 1
    assert "offline mode" in out.stdout and "REELSEARCH_WEIGHTS" in out.stdout


@pytest.mark.slow
def test_truncated_equals_full_on_vit_b_32() -> None:
    encoder = OpenClipEncoder("ViT-B-32", pretrained=None, threads=1, precision="fp32")  # the text towers only
    assert CausalTextTower.find(encoder._model) is not None
    tokens = encoder._tokenizer(TEXTS)
    with torch.inference_mode():
        full = torch.nn.functional.normalize(encoder._model.encode_text(tokens), dim=-1)
        short = torch.nn.functional.normalize(encoder._text.encode(tokens), dim=-1)
    torch.testing.assert_close(short, full, atol=1e-5, rtol=0)
    np.testing.assert_allclose(encoder.encode_texts(TEXTS), full.numpy(), atol=1e-5)


def test_tiny_model_as_cli_plugin(tiny: OpenClipEncoder) -> None:
    encoder = load_encoder(plugin="indexer.models.clip_encoder:OpenClipEncoder.tiny")  # `--encoder` in CLI tests
    assert isinstance(encoder, OpenClipEncoder) and encoder.name == tiny.name
    assert load_from_spec(encoder_spec(encoder)).name == tiny.name
