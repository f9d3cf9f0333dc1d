"""Error handling: library errors and HTTP errors become one clear message.

API requests (``/api/...``) get ``{"error": "..."}`` with the status code; pages get the
error template. Library errors map to statuses: QueryError 400, NotFoundError 404,
StoreError 503 (no index yet / unreadable); busy upload decoders are 503 with Retry-After.
Unexpected errors are logged and answered 500 without details. An unknown ``/api/`` path is a
JSON 404 pointing at the OpenAPI file; a known one with the wrong method is 405 with ``Allow``.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from indexer.errors import (EncoderError, NotFoundError, QueryError, ReelsearchError,
                            StoreError, TaxonomyError)

from .security import wants_json
from .uploads import DecoderBusy

log = logging.getLogger(__name__)

_TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 413: "Upload too large", 429: "Too many attempts",
           500: "Server error", 503: "Unavailable"}


def error_response(status: int, message: str) -> Response:
    """A JSON body ``{"error": message}`` for the API, the error page otherwise."""
    if wants_json():
        response = jsonify(error=message)
    else:
        title = _TITLES.get(status, "Error")
        response = make_response(render_template("error.html", status=status, title=title,
                                                 message=message))
    response.status_code = status
    return response


def _status_of(exc: ReelsearchError) -> int:
    if isinstance(exc, QueryError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (StoreError, TaxonomyError, EncoderError)):
        return 503
    return 500


def _message(exc: HTTPException, status: int) -> str:
    if isinstance(exc, NotFound) and wants_json() and request.url_rule is None:
        return f"no API endpoint {request.path}; see /api/openapi.yaml"
    return exc.description or _TITLES.get(status, "error")


def _handle_http(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
        return error_response(413, f"upload too large: the limit is {limit:g} MB")
    status = exc.code or 500
    response = error_response(status, _message(exc, status))
    for name, value in exc.get_headers():
        if name.lower() in ("allow", "www-authenticate", "retry-after"):
            response.headers[name] = value
    return response


def _handle_library(exc: ReelsearchError) -> Response:
    status = _status_of(exc)
    if status >= 500:
        log.warning("request failed: %s", exc)
    return error_response(status, str(exc))


def _handle_busy(exc: DecoderBusy) -> Response:
    response = error_response(503, str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    log.exception("unexpected error")
    return error_response(500, "internal error; see the server log")


def init_errors(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(ReelsearchError, _handle_library)
    app.register_error_handler(DecoderBusy, _handle_busy)
    app.register_error_handler(Exception, _handle_unexpected)
