"""reelsearch web UI: search, browse by category, watch labelled timelines, curate.

``create_app(config)`` builds the Flask application (flaskr style): defaults, then a config
file / environment variables, then the ``config`` mapping given by tests. Blueprints:

- ``pages``   server-rendered HTML: search, browse, video page (+ curator forms)
- ``api``     JSON endpoints for everything the pages do (documented in web/openapi.yaml)
- ``auth``    curator sign-in / sign-out
- ``media``   video streaming with HTTP Range, thumbnails
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from indexer.types import format_timestamp, round_for_json

log = logging.getLogger(__name__)


def _human_duration(seconds: float | None) -> str:
    """'1 h 02 min', '3 min 05 s', '4.2 s'."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _date(unix_time: float | None) -> str:
    """'2026-12-01' (UTC) for a unix time; '–' for none."""
    if unix_time is None:
        return "–"
    return datetime.fromtimestamp(unix_time, tz=timezone.utc).strftime("%Y-%m-%d")


def _timestamp(seconds: float | None) -> str:
    return "–" if seconds is None else format_timestamp(max(0.0, float(seconds)))


class RowIdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 .. 2**63-1 (what SQLite can hold); anything else is 404."""

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=2 ** 63 - 1)


class AppJSON(DefaultJSONProvider):
    """Flask's JSON with every float rounded to the microsecond on the way out, as the CLI's
    ``--json`` is; on the way in, a document nested too deeply to parse is a ValueError (so
    ``request.get_json(silent=True)`` gives None and the view answers 400), not a RecursionError
    that would be a 500."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(round_for_json(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` (tests) overrides everything else.

    Raises FileNotFoundError / tomllib.TOMLDecodeError for a bad config file and OSError when
    the secret key cannot be created in the data dir.
    """
    from . import api, auth, curate, media, pages, teach
    from .archive import init_archive
    from .config import load_config
    from .errors import init_errors
    from .security import init_security
    from .turns import init_turns

    app = Flask(__name__)
    app.url_map.converters["id"] = RowIdConverter
    app.json = AppJSON(app)
    load_config(app, config)
    init_security(app)
    init_errors(app)
    init_archive(app)
    init_turns(app)
    app.jinja_env.filters["ts"] = _timestamp
    app.jinja_env.filters["human"] = _human_duration
    app.jinja_env.filters["date"] = _date
    for blueprint in (pages.bp, curate.bp, teach.bp, api.bp, auth.bp, media.bp):
        app.register_blueprint(blueprint)
    log.info("reelsearch web app for %s", app.config["DATA_DIR"])
    return app
