"""The web layer's commands: ``reelsearch serve`` and ``reelsearch user add`` / ``passwd`` /
``list`` / ``remove``.

``serve`` runs the web app under waitress (a production WSGI server, not Flask's debug
server); ``user add NAME`` creates a curator account (password hashed by indexer.store.curation),
``user passwd NAME`` changes its password and ends all its sessions, ``user list`` names the
accounts and ``user remove NAME`` closes one.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from indexer.cli.options import data_dir_option, open_store, warn_if_random_weights
from indexer.errors import ReelsearchError
from search.server_texts import ServerAddress, remove_server_file, write_server_file

log = logging.getLogger(__name__)


QUEUE_WARNING_INTERVAL = 60.0  # seconds between two "Task queue depth" lines of waitress


class QueueDepthWarnings(logging.Filter):
    """Let through one of waitress's "Task queue depth" warnings per ``interval`` seconds (they
    come at every queued request under load), saying how many were held back."""

    def __init__(self, interval: float = QUEUE_WARNING_INTERVAL) -> None:
        super().__init__()
        self.interval, self._last, self._held = interval, float("-inf"), 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Task queue depth"):
            return True
        now = time.monotonic()
        if now - self._last < self.interval:
            self._held += 1
            return False
        if self._held:
            record.msg = f"{record.msg} ({self._held} more such warnings in the last {self.interval:g} s)"
        record.msg = f"{record.msg}; all --threads are busy, requests wait"
        self._last, self._held = now, 0
        return True


def _migrate(data_dir: Path) -> None:
    """Bring the index to this version's schema (the server itself only reads it)."""
    from indexer.store import Store

    try:
        Store.open(data_dir).close()
    except ReelsearchError as exc:
        raise click.ClickException(f"cannot open the index: {exc}") from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for all; put HTTPS in front if you do).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on.")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads serving requests (image searches are limited separately: IMAGE_SEARCHES).")
@click.option("--shards", type=click.IntRange(min=0), default=None,
              help="Split the vectors by video over N Ray actors (config SHARDS; needs reelsearch[ray]).")
@data_dir_option
def serve(host: str, port: int, threads: int, shards: int | None, data_dir: Path) -> None:
    """Serve the web UI (search, browse, video pages, curator tools, JSON API)."""
    import waitress

    from indexer.store import Store

    from . import create_app
    from .archive import EXTENSION

    try:
        Store.require(data_dir)  # serving from the wrong folder must not create a store there
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None
    _migrate(data_dir)
    try:
        with Store.open(data_dir, readonly=True) as store:
            warn_if_random_weights(store)
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = create_app({"DATA_DIR": data_dir, **({"SHARDS": shards} if shards is not None else {})})
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the web app: {exc}") from None
    if app.config["SHARDS"]:
        try:  # load the shards now: a missing Ray or cluster is an error at start, not at the first search
            app.extensions[EXTENSION].engine()
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    queue_log = logging.getLogger("waitress.queue")
    if not any(isinstance(f, QueueDepthWarnings) for f in queue_log.filters):
        queue_log.addFilter(QueueDepthWarnings())
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads, connection_limit=threads * 16,
                                        ident="reelsearch", clear_untrusted_proxy_headers=True)
    except (OSError, ValueError) as exc:  # the port taken, a port below 1024 without the right, no such host
        app.extensions[EXTENSION].close()
        raise click.ClickException(_cannot_listen(host, port, exc)) from None
    address = ServerAddress(host or "0.0.0.0", int(server.effective_port), os.getpid())
    click.echo(f"reelsearch: serving {data_dir} on {address.url}/  (Ctrl+C to stop)")
    warmer = threading.Thread(target=app.extensions[EXTENSION].warm, name="reelsearch-warm", daemon=True)
    warmer.start()
    try:
        _announce(server, data_dir, address)
    finally:
        warmer.join(timeout=10)


def _cannot_listen(host: str, port: int, exc: OSError | ValueError) -> str:
    """One line on why ``serve`` cannot listen on ``host:port``, and what to do."""
    if isinstance(exc, (ValueError, socket.gaierror)):  # waitress: "Invalid host/port specified"
        return f"cannot listen on {host}:{port}: no such host name or address here (--host takes this machine's)"
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {host}:{port}: {reason}; another program, perhaps another reelsearch serve, "
                "listens there: pick another port with --port")
    if exc.errno == errno.EACCES:
        return f"cannot listen on {host}:{port}: {reason}; ports below 1024 need more rights: pick another with --port"
    return f"cannot listen on {host}:{port}: {reason}"


def _announce(server: Any, data_dir: Path, address: ServerAddress) -> None:
    """Run ``server`` while ``<data_dir>/server.json`` tells CLI commands where it is (they then
    ask it to embed new texts); the file goes when the server stops (Ctrl+C or SIGTERM)."""
    previous = signal.signal(signal.SIGTERM, _stop)
    write_server_file(data_dir, address)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        remove_server_file(data_dir, address.pid)
        signal.signal(signal.SIGTERM, previous)
        server.close()


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


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


def _set_password(name: str, password_stdin: bool, data_dir: Path, *, create: bool) -> None:
    """Read a password and create the account (``create``) or give the existing one a new
    password (which ends its sessions). Library errors become one-line click errors."""
    from indexer.store import Store, curation

    password = _read_password(password_stdin)
    try:
        with Store.open(data_dir) as store:
            if create:
                curation.add_user(store, name, password)
            else:
                curation.set_password(store, name, password)
    except (ReelsearchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@data_dir_option
def user_add(name: str, password_stdin: bool, data_dir: Path) -> None:
    """Create the curator account NAME (or set a new password for it)."""
    _set_password(name, password_stdin, data_dir, create=True)
    click.echo(f"curator {name} can now sign in")


@user.command("list")
@data_dir_option
def user_list(data_dir: Path) -> None:
    """Print every curator account's name, one a line."""
    from indexer.store import curation

    with open_store(data_dir, readonly=True, create=False) as store:  # listing must not create a store
        names = curation.list_users(store)
    for name in names:
        click.echo(name)
    if not names:
        click.echo("no curator accounts; create one with `reelsearch user add NAME`", err=True)


@user.command("remove")
@click.argument("name")
@data_dir_option
def user_remove(name: str, data_dir: Path) -> None:
    """Remove the curator account NAME: it cannot sign in any more and its sessions end; what
    NAME did stays in the audit log under NAME."""
    from indexer.store import curation

    with open_store(data_dir, create=False) as store:
        try:
            curation.remove_user(store, name)
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"curator {name} removed; {name}'s sessions have ended")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@data_dir_option
def user_passwd(name: str, password_stdin: bool, data_dir: Path) -> None:
    """Set a new password for the curator NAME and end all of NAME's sessions."""
    _set_password(name, password_stdin, data_dir, create=False)
    click.echo(f"new password for curator {name}; all of {name}'s sessions have ended")
