"""``reelsearch encoder serve``: serve any reelsearch encoder under Roboflow Inference's CLIP API,
so one GPU machine embeds for a whole cluster (clients: ``indexer.models.remote:RemoteEncoder``)."""

from __future__ import annotations

import click

from indexer.cli.options import encoder_choice, encoder_options
from indexer.errors import ReelsearchError


@click.group()
def encoder() -> None:
    """Serve an embedding model to other machines."""


@encoder.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for all; put HTTPS in front if you do).")
@click.option("--port", default=9001, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Threads receiving requests (embedding itself runs one request at a time).")
@click.option("--api-key", default=None, envvar="REELSEARCH_ENCODER_API_KEY", show_envvar=True,
              help="Require this key in every embedding request.")
@encoder_options
def serve(host: str, port: int, threads: int, api_key: str | None, **encoder_kw) -> None:
    """Serve an encoder (default: open_clip ViT-B-32) at POST /clip/embed_image and /clip/embed_text."""
    import waitress

    from indexer.models.loading import load_encoder

    from .encoder_api import create_encoder_app

    try:
        model = load_encoder(**encoder_choice(encoder_kw))
        model.encode_texts(["warm up"])  # load the weights now, not at the first request
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"reelsearch: serving encoder {model.name} (dim {model.dim}) on http://{shown}:{port}/  "
               "(Ctrl+C to stop)", err=True)
    waitress.serve(create_encoder_app(model, api_key=api_key), host=host, port=port, threads=threads,
                   ident="reelsearch-encoder")
