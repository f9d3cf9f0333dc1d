"""Loading encoders: an open_clip model, a ``module:attr`` plug-in, or the one a store records.

Importing this keeps torch out: the open_clip encoder and the plug-ins are imported only when
asked for.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import weakref
from pathlib import Path
from typing import Any

from indexer.errors import EncoderError, EncoderMismatchError
from indexer.models.encoder import Encoder
from indexer.models.lazy import LazyClipEncoder, open_clip_class

#: Default open_clip architecture and weights tag.
DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
#: Environment variable naming a local checkpoint file (same as ``--weights FILE``).
WEIGHTS_ENV = "REELSEARCH_WEIGHTS"

log = logging.getLogger(__name__)
_REQUIRED_ATTRIBUTES = ("name", "dim", "image_size")
_REQUIRED_METHODS = ("encode_images", "encode_texts")
_plugin_names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
#: Modules of the built-in encoders before the indexer was split into packages; specs naming them
#: (in the README of old, in scripts, and recorded in existing stores) keep loading.
LEGACY_MODULES = {"indexer.fake_encoder": "indexer.models.colour",
                  "indexer.clip_encoder": "indexer.models.clip_encoder"}


def load_encoder(
    *,
    model: str | None = None,
    pretrained: str | None = None,
    weights: Path | None = None,
    plugin: str | None = None,
    precision: str | None = None,
    batch_size: int = 32,
) -> Encoder:
    """Load the encoder the user asked for: a ``module:attr`` plugin, or an open_clip model.

    open_clip defaults to ``ViT-B-32`` with ``laion2b_s34b_b79k`` weights (downloaded once into the
    Hugging Face cache). ``weights`` (else env ``REELSEARCH_WEIGHTS``) is a local checkpoint file;
    so is a ``pretrained`` that names one (open_clip's ``pretrained=PATH``, see :func:`local_checkpoint`).
    ``precision`` is the image tower's (``auto`` when None: bf16 where the CPU has it, else fp32).

    Raises:
        EncoderError: one line: unknown model/tag, weights not obtainable offline (saying what to
            download and how to pass it), bad weights file, bad plugin, or conflicting options.
    """
    if plugin:
        if model or pretrained or weights or precision:
            raise EncoderError("--encoder cannot be combined with --model/--pretrained/--weights/--precision")
        return load_plugin(plugin)
    pretrained, weights = local_checkpoint(pretrained, weights)
    if weights is None and os.environ.get(WEIGHTS_ENV, "").strip():
        weights = Path(os.environ[WEIGHTS_ENV].strip())
    model = model or DEFAULT_MODEL
    if pretrained is None and weights is None:
        if model != DEFAULT_MODEL:
            raise EncoderError(f"say which weights to use for {model}: --pretrained TAG or --weights FILE")
        pretrained = DEFAULT_PRETRAINED
    open_clip_encoder = open_clip_class()
    return open_clip_encoder(model, pretrained=pretrained, weights=weights,
                             precision=precision or "auto", batch_size=batch_size)


def local_checkpoint(pretrained: str | None, weights: Path | None) -> tuple[str | None, Path | None]:
    """``(pretrained, weights)`` with a ``pretrained`` that names a checkpoint file moved to ``weights``.

    open_clip reads ``pretrained`` as a tag or a local file; here a file is passed as ``weights``,
    so ``--pretrained PATH`` and ``--weights PATH`` load, record and name the same encoder. A value
    is a file when it exists and looks like a path (has a folder or a file extension); anything
    else stays a tag. Raises EncoderError when both name something (which one is meant?).
    """
    if not pretrained or not Path(pretrained).expanduser().is_file():
        return pretrained, weights
    if not (os.sep in pretrained or "/" in pretrained or Path(pretrained).suffix):
        return pretrained, weights  # a bare name: open_clip's tags come first
    if weights is not None:
        raise EncoderError(f"--pretrained {pretrained} names a checkpoint file and --weights {weights} another; "
                           "pass one of them")
    return None, Path(pretrained).expanduser()


def load_plugin(spec: str) -> Encoder:
    """Import ``module:attr`` (attr may be dotted); a class or factory is called with no arguments.

    Raises:
        EncoderError: malformed spec, import failure, missing attribute, failing factory, or an
            object that does not implement the ``Encoder`` protocol (naming what is missing).
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise EncoderError(
            f"--encoder must look like module:attr (e.g. indexer.models.colour:ColourEncoder), got {spec!r}"
        )
    try:
        obj: Any = importlib.import_module(LEGACY_MODULES.get(module_name, module_name))
    except Exception as exc:
        raise EncoderError(f"cannot import module {module_name!r} for --encoder {spec}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise EncoderError(f"module {module_name!r} has no attribute {attr!r} (--encoder {spec})")
        obj = getattr(obj, part)
    if isinstance(obj, type) or (callable(obj) and _missing_members(obj)):
        try:
            obj = obj()
        except Exception as exc:
            raise EncoderError(f"--encoder {spec}: calling {attr}() failed: {exc}") from exc
    missing = _missing_members(obj)
    if missing:
        raise EncoderError(f"--encoder {spec} does not implement the Encoder protocol: missing {', '.join(missing)}")
    try:
        _plugin_names[obj] = spec
    except TypeError:  # unhashable or not weak-referenceable: encoder_spec falls back to its class
        log.debug("cannot remember plugin spec of %r", obj)
    return obj


def _missing_members(obj: Any) -> list[str]:
    """Names of protocol members ``obj`` lacks or gets wrong (empty name, non-positive dim...)."""
    missing = [m for m in _REQUIRED_ATTRIBUTES if not hasattr(obj, m)]
    missing += [f"{m}()" for m in _REQUIRED_METHODS if not callable(getattr(obj, m, None))]
    if not missing:
        if not isinstance(obj.name, str) or not obj.name:
            missing.append("name (a non-empty str)")
        for attr in ("dim", "image_size"):
            value = getattr(obj, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                missing.append(f"{attr} (a positive int)")
    return missing


def random_weights(spec: dict[str, Any] | None) -> bool:
    """Whether ``spec`` (from :func:`encoder_spec`) is an open_clip model with random weights
    (``--pretrained ''`` and no ``--weights``): fine to benchmark speed, meaningless to search."""
    return bool(spec) and spec.get("kind") == "open_clip" and not spec.get("pretrained") \
        and not spec.get("weights")


def encoder_spec(encoder: Encoder) -> dict[str, Any]:
    """JSON-able description of how to load ``encoder`` again (``load_from_spec`` reads it).

    open_clip encoders record model, tag, weights path and precision; plugins record ``module:attr``
    (as loaded, or else the encoder's importable class). ``name`` and ``dim`` are always included.

    Raises:
        EncoderError: a plugin that was not loaded by ``load_plugin`` and whose class is not importable.
    """
    clip_module = sys.modules.get("indexer.models.clip_encoder")
    if isinstance(encoder, LazyClipEncoder) or (
            clip_module is not None and isinstance(encoder, clip_module.OpenClipEncoder)):
        return encoder.spec()
    try:
        plugin = _plugin_names.get(encoder)
    except TypeError:
        plugin = None
    if plugin is None:
        cls = type(encoder)
        plugin = f"{cls.__module__}:{cls.__qualname__}"
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise EncoderError(f"cannot record encoder {encoder.name!r}: load it with --encoder module:attr")
    return {"kind": "plugin", "plugin": plugin, "name": encoder.name, "dim": int(encoder.dim)}


def load_from_spec(spec: dict[str, Any], *, weights: Path | None = None) -> Encoder:
    """Load the encoder ``spec`` (from ``encoder_spec``) describes and check it is the same one.

    An open_clip encoder is a :class:`~indexer.models.lazy.LazyClipEncoder`: nothing is loaded
    before a text or image is embedded (then only the text tower where that suffices), and the
    weights are checked against the record then. ``weights`` (else env ``REELSEARCH_WEIGHTS``)
    replaces the recorded checkpoint path, e.g. on another machine.

    Raises:
        EncoderError: malformed spec, plugin not loadable, or a plugin whose name or dim differs
            from the recorded one (other weights than those the index was built with).
    """
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "plugin" and isinstance(spec.get("plugin"), str):
        encoder = load_plugin(spec["plugin"])
    elif kind == "open_clip" and isinstance(spec.get("model"), str):
        if weights is None and os.environ.get(WEIGHTS_ENV, "").strip():
            weights = Path(os.environ[WEIGHTS_ENV].strip())
        return LazyClipEncoder(spec, weights=weights)
    else:
        raise EncoderError(f"unknown encoder record {spec!r}; re-index with the encoder you want")
    if encoder.name != spec.get("name") or encoder.dim != spec.get("dim"):
        raise EncoderError(
            f"the index was built with encoder {spec.get('name')} (dim {spec.get('dim')}) but {encoder.name} "
            f"(dim {encoder.dim}) was loaded; pass the same weights (--weights FILE or {WEIGHTS_ENV}) or re-index"
        )
    return encoder


def choose_encoder(spec: dict[str, Any] | None, choice: dict[str, Any]) -> Encoder:
    """The encoder the options in ``choice`` (``load_encoder`` keywords) ask for, else the one ``spec`` records.

    ``precision`` alone does not change the model: it applies to the recorded open_clip encoder.
    Without a spec (nothing indexed yet) the options, or the defaults, decide.

    Raises:
        EncoderError: as ``load_encoder`` / ``load_from_spec``, or ``precision`` asked of a plugin.
    """
    choice = dict(choice)
    if not choice.get("plugin"):
        choice["pretrained"], choice["weights"] = local_checkpoint(choice.get("pretrained"), choice.get("weights"))
    asked = {key: value for key, value in choice.items() if value}
    if not spec or (set(asked) - {"precision"} and not _names_recorded(spec, asked)):
        return load_encoder(**choice)
    if "precision" in asked:
        if spec.get("kind") != "open_clip":
            raise EncoderError(f"--precision applies to open_clip encoders; this index uses {spec.get('name')}")
        spec = {**spec, "precision": asked["precision"]}
    return load_from_spec(spec)


def store_encoder(store: Any, choice: dict[str, Any] | str | Encoder | None = None, *, bind: bool = True) -> Encoder:
    """The encoder for ``store`` (the one service CLI, search and web choose it with): the one
    ``choice`` asks for (``load_encoder`` keywords, a plugin ``module:attr``, or an Encoder),
    else the one the store records, else the default.

    ``bind`` (indexing, labels, reports): record it in the store. Readers (search, the web)
    do not bind: the store must record an encoder, and one that options name must be it.

    Raises:
        EncoderError: as ``choose_encoder`` / ``load_plugin``.
        EncoderMismatchError: the store holds vectors of another encoder.
        StoreError: a reader's store records no encoder (nothing indexed yet).
    """
    if isinstance(choice, str):
        encoder = load_plugin(choice)
    elif isinstance(choice, dict) or choice is None:
        spec = store.encoder_spec() if bind else store.recorded_encoder()
        encoder = choose_encoder(spec, choice or {})
        if not bind and encoder.name != spec.get("name"):
            raise EncoderMismatchError(f"this index was built with encoder {spec.get('name')}, not "
                                       f"{encoder.name}; drop the encoder options to use the index's own")
    else:
        encoder = choice
    if bind:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    return encoder


def _names_recorded(spec: dict[str, Any], asked: dict[str, Any]) -> bool:
    """True when the open_clip options in ``asked`` name exactly the encoder ``spec`` records
    (same model, tag and weights file), so it can be loaded lazily from the record."""
    if spec.get("kind") != "open_clip" or asked.get("plugin"):
        return False
    weights = asked.get("weights") or os.environ.get(WEIGHTS_ENV, "").strip() or None
    recorded = spec.get("weights")
    same_file = (weights is None and recorded is None) or (
        weights is not None and recorded is not None and Path(weights).expanduser().resolve() == Path(recorded))
    return (asked.get("model", DEFAULT_MODEL) == spec.get("model") and same_file
            and asked.get("pretrained", spec.get("pretrained")) == spec.get("pretrained"))
