"""Configuration of the web app: defaults -> config file / environment -> test mapping.

The data directory is resolved first (test mapping, then ``REELSEARCH_DATA_DIR``, then the
default ``data/index``) because the config file may live inside it. The config file is
``$REELSEARCH_WEB_CONFIG`` if set, else ``<data_dir>/web.toml`` or ``<data_dir>/web.py`` if
present. Environment variables ``REELSEARCH_WEB_<KEY>`` override single keys (values parsed as
JSON when possible, as Flask's ``from_prefixed_env`` does).
"""

from __future__ import annotations

import logging
import os
import secrets
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from indexer.cli.options import DEFAULT_DATA_DIR, absolute_data_dir
from indexer.media.thumbnails import THUMB_WIDTH
from search.results import DEFAULT_K

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": None,  # resolved in load_config
    "SECRET_KEY": None,  # None: generated once and kept in <data_dir>/secret_key (mode 0600)
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # upload limit (query images), bytes
    "TAXONOMY": None,  # path of a taxonomy TOML; None: the default taxonomy
    "ENCODER": None,  # an Encoder object or "module:attr"; None: the encoder the store records
    "SHOW_FULL_PATHS": False,  # False: video paths relative to the folder holding all videos
    "IMAGE_SEARCHES": 2,  # uploaded images decoded at once; more are answered 503 + Retry-After
    "COMPUTING": 4,  # requests computing at once (pages, API, search; not media): see web/turns.py
    "THUMB_WIDTH": THUMB_WIDTH,  # pixels
    "SEARCH_LIMIT": DEFAULT_K,  # videos per search
    "VIDEOS_PER_PAGE": 50,  # rows of the videos list
    "SHARDS": 0,  # > 0: vectors split by video over this many Ray actors (reelsearch[ray])
    "SHARD_INDEX": "flat",  # index kind per shard: flat, ivf-sq8, ivf-pq, opq-ivf-pq
    "RAY_ADDRESS": "local",  # the Ray cluster of the shards: local, auto or HOST:PORT
    "LOGIN_FAILURES": 10,  # failed sign-ins of one account from one address ...
    "LOGIN_FAILURES_ACCOUNT": 50,  # ... of one account from any address ...
    "LOGIN_FAILURES_ADDRESS": 50,  # ... from one address to any account ...
    "LOGIN_WINDOW": 600,  # ... within this many seconds lock that out until the window passes
    "SESSION_COOKIE_NAME": "reelsearch_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set True behind HTTPS
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "SEND_FILE_MAX_AGE_DEFAULT": timedelta(hours=1),
}


def resolve_data_dir(overrides: Mapping[str, Any] | None) -> Path:
    """The data dir, absolute: ``overrides``, else env REELSEARCH_DATA_DIR, else ./data/index.

    A relative path is taken from the current directory here, once: Flask would resolve it
    against the ``web`` package's folder when sending files.
    """
    if overrides and overrides.get("DATA_DIR"):
        return absolute_data_dir(overrides["DATA_DIR"])
    return absolute_data_dir(os.environ.get("REELSEARCH_DATA_DIR") or DEFAULT_DATA_DIR)


def config_file(data_dir: Path) -> Path | None:
    """The config file to read, or None. Raises FileNotFoundError for a missing explicit file."""
    explicit = os.environ.get("REELSEARCH_WEB_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"REELSEARCH_WEB_CONFIG names {path}, which is not a file")
        return path
    for name in ("web.toml", "web.py"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config``: defaults, then the config file and env vars, then ``overrides``.

    With ``TESTING`` true in ``overrides`` the file and the environment are not read (tests
    stay independent of the machine). Raises FileNotFoundError (explicit config file missing)
    or tomllib.TOMLDecodeError.
    """
    app.config.from_mapping(DEFAULTS)
    data_dir = resolve_data_dir(overrides)
    if not (overrides and overrides.get("TESTING")):
        path = config_file(data_dir)
        if path is not None and path.suffix == ".toml":
            with open(path, "rb") as fh:
                app.config.from_mapping({k.upper(): v for k, v in tomllib.load(fh).items()})
            log.info("read config from %s", path)
        elif path is not None:
            app.config.from_pyfile(str(path.resolve()))
            log.info("read config from %s", path)
        app.config.from_prefixed_env("REELSEARCH_WEB")
    app.config.from_mapping(overrides or {})
    app.config["DATA_DIR"] = absolute_data_dir(app.config.get("DATA_DIR") or data_dir)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.config["DATA_DIR"])


def load_secret_key(data_dir: Path) -> str:
    """Read ``<data_dir>/secret_key``, creating it (random, mode 0600) on first use.

    Raises OSError if the data dir cannot be created or the file cannot be read/written.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        _create_secret_key(path)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise OSError(f"{path} is too short to be a secret key; delete it to generate a new one")
    return key


def _create_secret_key(path: Path) -> None:
    """Write a new random key atomically (temp file + link), so racing processes agree."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(tmp, path)  # fails if another process created it first: keep theirs
        log.info("generated a new secret key in %s", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
