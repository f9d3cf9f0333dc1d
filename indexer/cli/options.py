"""Options shared by every ``reelsearch`` command, and how they become a store and an encoder.

Commands of the upper layers (``search``, ``web``) reuse these decorators and helpers so all
commands agree on ``--data-dir`` and on how the encoder is chosen.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable

import click

from indexer.models.encoder import PRECISIONS, Encoder
from indexer.models.loading import choose_encoder, random_weights
from indexer.errors import ReelsearchError
from indexer.store.facade import Store

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data") / "index"


def absolute_data_dir(path: str | Path) -> Path:
    """``path`` as an absolute path (``~`` expanded, relative to the current directory).

    Resolved once where a command reads it, so nothing later (a web route, a worker thread)
    resolves it against another folder.
    """
    return Path(path).expanduser().absolute()


def data_dir_option(func: Callable) -> Callable:
    """``--data-dir`` (env REELSEARCH_DATA_DIR, default ./data/index), made absolute at once."""
    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="REELSEARCH_DATA_DIR",
        default=DEFAULT_DATA_DIR, show_default=True, show_envvar=True,
        callback=lambda _ctx, _param, value: absolute_data_dir(value),
        help="Where the index (SQLite catalog + FAISS vectors) lives.")(func)


def taxonomy_option(func: Callable) -> Callable:
    """``--taxonomy FILE`` (env REELSEARCH_TAXONOMY, default: the bundled ad-archive taxonomy)."""
    return click.option("--taxonomy", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        envvar="REELSEARCH_TAXONOMY", show_envvar=True,
                        help="Category taxonomy TOML [default: the bundled ad-archive taxonomy].")(func)


def encoder_options(func: Callable) -> Callable:
    """``--model/--pretrained/--weights/--encoder/--precision``: which embedding model to use."""
    options = [
        click.option("--model", default=None, help="open_clip model name [default: ViT-B-32]."),
        click.option("--pretrained", default=None,
                     help="open_clip pretrained tag, or a local checkpoint file as --weights "
                          "[default: laion2b_s34b_b79k]."),
        click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     envvar="REELSEARCH_WEIGHTS", show_envvar=True,
                     help="Local open_clip checkpoint file (for machines without internet)."),
        click.option("--encoder", "plugin", default=None, metavar="MODULE:ATTR",
                     help="Any object implementing the Encoder protocol (see README)."),
        click.option("--precision", type=click.Choice(PRECISIONS), default=None,
                     help="Image tower arithmetic: auto (bf16 where the CPU has it natively, else torch's "
                          "int8, else fp32; then onnxruntime int8 where it was measured faster and agreeing "
                          "with fp32), fp32, bf16, int8 (torch, dynamic) or onnx-int8 [default: auto]."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), func)


def encoder_choice(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the encoder options out of a command's keyword arguments."""
    return {key: params.pop(key) for key in ("model", "pretrained", "weights", "plugin", "precision")}


def warn_if_random_weights(store: Store) -> None:
    """Print one warning line (stderr) when the store's encoder has random weights."""
    spec = store.encoder_spec()
    if random_weights(spec):
        click.echo(f"warning: this index uses open_clip {spec.get('model')} with random weights "
                   "(--pretrained ''): its labels and search results are meaningless; "
                   "use it only to benchmark speed", err=True)


def open_store(data_dir: Path, *, readonly: bool = False, create: bool = True) -> Store:
    """Open the store, turning library errors into one-line CLI errors.

    ``create=False`` (read commands): a missing store is an error naming ``data_dir``.
    """
    try:
        return Store.open(data_dir, readonly=readonly, create=create)
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None


def encoder_for_new_store(data_dir: Path, choice: dict[str, Any]) -> dict[str, Any] | Encoder:
    """``choice`` as it is when ``data_dir`` holds a store, else the encoder it asks for, loaded
    now: a command about to make the store stops first (one line) when the model cannot load
    (offline without weights, a plugin that does not import), leaving no empty store behind."""
    if Store.exists(data_dir):
        return choice
    try:
        return choose_encoder(None, choice)
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None


def setup_logging(verbose: int) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if os.environ.get("REELSEARCH_DEBUG"):
        logging.getLogger().setLevel(logging.DEBUG)
