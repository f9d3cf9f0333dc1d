"""The web layer's commands: ``reelsearch serve`` and ``reelsearch user add``.

``serve`` runs the web app under waitress (a production WSGI server, not Flask's debug
server); ``user add NAME`` creates a curator account (password hashed by indexer.store.curation).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from indexer.cli.options import data_dir_option, warn_if_random_weights
from indexer.errors import ReelsearchError

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for all; put HTTPS in front if you do).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads serving requests.")
@data_dir_option
def serve(host: str, port: int, threads: int, data_dir: Path) -> None:
    """Serve the web UI (search, browse, video pages, curator tools, JSON API)."""
    import waitress

    from indexer.store import Store

    from . import create_app

    try:  # serving from the wrong folder must not create a store there
        with Store.open(data_dir, readonly=True) as store:
            warn_if_random_weights(store)
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = create_app({"DATA_DIR": data_dir})
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the web app: {exc}") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    click.echo(f"reelsearch: serving {data_dir} on http://{shown}:{port}/  (Ctrl+C to stop)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="reelsearch",
                   clear_untrusted_proxy_headers=True)


@click.group()
def user() -> None:
    """Manage curator accounts (curators may edit labels in the web UI)."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    return password


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@data_dir_option
def user_add(name: str, password_stdin: bool, data_dir: Path) -> None:
    """Create the curator account NAME (or set a new password for it)."""
    from indexer.store import curation
    from indexer.store import Store

    password = _read_password(password_stdin)
    try:
        with Store.open(data_dir) as store:
            curation.add_user(store, name, password)
    except (ReelsearchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"curator {name} can now sign in")
