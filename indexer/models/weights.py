"""Where open_clip weights come from, and the fingerprint that names them.

Weights come from the Hugging Face cache, a download (with progress bar) after a quick
reachability check, or a local file; offline without them, one ``EncoderError`` line says what
to download and how to pass it. ``weights_fingerprint`` hashes the loaded weights, so the same
weights give the same encoder name whether downloaded or passed as ``--weights FILE``.
``create_model`` builds the model with those weights (random init from a seed when there are
none); ``TINY_MODEL`` is a tiny random-init architecture for tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch

from indexer.errors import EncoderError
from indexer.files import write_atomically

log = logging.getLogger(__name__)

#: The offline stand-in encoder (sees only colours), named in the offline message.
COLOUR_ENCODER = "indexer.models.colour:ColourEncoder"

#: A tiny open_clip architecture for tests (random init; same code path as ViT-B-32).
TINY_MODEL = "reelsearch-tiny"
_TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
_HUB_DEFAULT_FILE = "open_clip_pytorch_model.bin"
_HUB_SAFE_FILE = "open_clip_model.safetensors"


def register_tiny_model() -> None:
    """Make ``TINY_MODEL`` known to open_clip (``add_model_config`` wants a JSON file, kept in temp)."""
    if TINY_MODEL in open_clip.list_models():
        return
    folder = Path(tempfile.gettempdir()) / f"reelsearch-open-clip-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(exist_ok=True)
    path = folder / f"{TINY_MODEL}.json"
    write_atomically(path, json.dumps(_TINY_CONFIG).encode())
    open_clip.add_model_config(path)


@dataclass(frozen=True)
class Checkpoint:
    """Where a model's weights come from: a file (None = random init) and what the tag prescribes."""

    path: Path | None
    source: str
    preprocess: dict[str, Any]
    quick_gelu: bool = False


def resolve_checkpoint(model: str, pretrained: str | None, weights: Path | None) -> Checkpoint:
    """Find the weights file for ``model``: ``weights`` if given, else the ``pretrained`` tag's file.

    A tag is looked up in the Hugging Face cache, then downloaded (progress bar) if the hub answers
    within seconds. ``pretrained`` and ``weights`` both None means random initialisation.

    Raises:
        EncoderError: unknown model or tag, missing file, or weights unavailable (offline message).
    """
    if model not in open_clip.list_models():
        raise EncoderError(f"unknown open_clip model {model!r}; choose one of open_clip.list_models(), e.g. ViT-B-32")
    cfg: dict[str, Any] = {}
    if pretrained:
        cfg = open_clip.get_pretrained_cfg(model, pretrained)
        if not cfg:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
            raise EncoderError(f"open_clip has no weights {pretrained!r} for {model} (known tags: {tags})")
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    quick_gelu = bool(cfg.get("quick_gelu", False))
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise EncoderError(
                f"weights file {path} does not exist; pass an open_clip checkpoint for {model} "
                "with --weights FILE or REELSEARCH_WEIGHTS=FILE"
            )
        return Checkpoint(path.resolve(), f"file {path.name}", preprocess, quick_gelu)
    if not pretrained:
        return Checkpoint(None, "random weights", {}, False)
    return Checkpoint(_fetch_hub_weights(model, pretrained, cfg), pretrained, preprocess, quick_gelu)


def _fetch_hub_weights(model: str, tag: str, cfg: dict[str, Any]) -> Path:
    """Cached file for the tag, else a download after a quick reachability check (never a long hang)."""
    from huggingface_hub import constants, errors, hf_hub_download, try_to_load_from_cache

    not_on_hub = getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)

    if not cfg.get("hf_hub"):
        raise EncoderError(f"open_clip weights {tag!r} for {model} are not on the hub; pass --weights FILE")
    repo, filename = os.path.split(cfg["hf_hub"])
    filename = filename or _HUB_DEFAULT_FILE
    names = [_HUB_SAFE_FILE, filename] if filename == _HUB_DEFAULT_FILE else [filename]
    for name in names:
        cached = try_to_load_from_cache(repo, name)
        if isinstance(cached, str):
            return Path(cached)
    endpoint = constants.ENDPOINT
    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if offline or not _reachable(endpoint):
        raise EncoderError(
            f"no {tag} weights for open_clip {model} in the Hugging Face cache and {endpoint} cannot be reached "
            f"(offline{' mode' if offline else ''}); on a connected machine download {endpoint}/{repo}/resolve/main/"
            f"{names[0]} (or run `hf download {repo} {names[0]}`), copy the file here and pass it with "
            f"--weights FILE or REELSEARCH_WEIGHTS=FILE; to try everything offline meanwhile, use the "
            f"built-in colour encoder: --encoder {COLOUR_ENCODER}"
        )
    log.info("downloading %s weights for %s from %s/%s", tag, model, endpoint, repo)
    for name in names:
        try:
            return Path(hf_hub_download(repo, name, library_name="open_clip"))
        except not_on_hub:
            continue
        except Exception as exc:  # network drop, disk full, auth...
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise EncoderError(
                f"downloading {endpoint}/{repo}/resolve/main/{name} failed ({reason}); retry, or fetch "
                "the file on another machine and pass it with --weights FILE or REELSEARCH_WEIGHTS=FILE"
            ) from exc
    raise EncoderError(f"{endpoint}/{repo} has none of {names}; pass the weights with --weights FILE")


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """True if ``url`` answers at all (any HTTP status) within ``timeout`` s; proxies from env honoured."""
    answers: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            answers.append(True)
        except urllib.error.HTTPError as exc:  # any status means the server is there
            exc.close()
            answers.append(True)
        # DNS failure, connection refused, timeout, TLS error...: all mean "not reachable".
        except Exception:  # noqa: BLE001
            answers.append(False)

    thread = threading.Thread(target=probe, name="reelsearch-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)  # getaddrinfo ignores the socket timeout: never wait on it longer
    return bool(answers and answers[0])


def weights_fingerprint(model: torch.nn.Module) -> str:
    """12 hex digits identifying a model's weights, independent of the file format they came in.

    Hashes the bytes of every small floating-point tensor (biases, norms, embeddings, projections
    up to 64k values) in state-dict order: any training run changes them, hashing stays fast.
    """
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        if tensor.is_floating_point() and tensor.numel() <= 65536:
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class _QuietRandomInit(logging.Filter):
    """Drops open_clip's "No pretrained weights loaded" warning where random init is asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")

    def __enter__(self) -> None:
        logging.getLogger().addFilter(self)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeFilter(self)


def create_model(model_name: str, ckpt: Checkpoint, seed: int) -> torch.nn.Module:
    """Build the open_clip model with the checkpoint's weights (random init from ``seed`` if none)."""
    quiet = _QuietRandomInit() if ckpt.path is None else contextlib.nullcontext()
    try:
        with torch.random.fork_rng(devices=[]), quiet:
            torch.manual_seed(seed)
            model = open_clip.create_model(
                model_name,
                pretrained=str(ckpt.path) if ckpt.path else None,
                force_quick_gelu=ckpt.quick_gelu,
                force_preprocess_cfg=ckpt.preprocess or None,
            )
    except Exception as exc:  # open_clip raises RuntimeError, pickle/safetensors errors, KeyError...
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        what = f"weights {ckpt.path}" if ckpt.path else "random weights"
        raise EncoderError(
            f"cannot load {what} into open_clip model {model_name} ({reason}); "
            "pass a checkpoint made for that model (--model/--weights) or re-download it"
        ) from exc
    return model.eval()
