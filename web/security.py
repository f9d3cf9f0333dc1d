"""Sessions, CSRF protection, curator sign-in checks and security headers.

Design:
- Reading is open. Every write needs a signed-in curator (``session["user"]``); the session is a
  cookie signed with the app's secret key (HttpOnly, SameSite=Lax).
- CSRF: a random token lives in the session. Every POST/PUT/PATCH/DELETE must echo it, either
  as the form field ``csrf_token`` or the header ``X-CSRF-Token`` (JSON clients), unless the
  view is marked :func:`csrf_exempt` (only read-only POSTs such as a search by uploaded image).
  A mismatch is answered 403.
- Signing in clears the old session (no session fixation) and issues a fresh CSRF token.
- Sessions are revocable: a session carries the curator's session generation from the store
  and is checked against it on every request; signing out (and a password change) bumps the
  generation, so a copied cookie stops working everywhere at once, also after a restart.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from typing import Any, Callable

from flask import Flask, abort, current_app, redirect, request, session, url_for

from indexer.errors import NotFoundError
from indexer.store import access

from .archive import store, writable_store

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EXEMPT_ATTR = "_reelsearch_csrf_exempt"
_GENERATION = "session_generation"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_exempt(view: Callable) -> Callable:
    """Mark a view that accepts unsafe methods but changes nothing (e.g. image search)."""
    setattr(view, _EXEMPT_ATTR, True)
    return view


def _check_csrf() -> None:
    """before_request hook: abort(403) when an unsafe request lacks the session's token."""
    if request.method not in _UNSAFE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and getattr(view, _EXEMPT_ATTR, False):
        return
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        log.warning("CSRF check failed for %s %s from %s (%s token)", request.method, request.path,
                    request.remote_addr, "no" if not sent else "wrong")
        abort(403, "missing or invalid CSRF token: reload the page and try again "
                   f"(JSON clients: send the token from GET /api/session in the {CSRF_HEADER} header)")


def current_user() -> str | None:
    """The signed-in curator's name, or None."""
    user = session.get("user")
    return user if isinstance(user, str) and user else None


def session_generation(name: str) -> int | None:
    """The curator's current session generation in the store (None: no such account)."""
    return access.session_generation(store(), name)


def end_sessions(name: str) -> None:
    """End every session of the curator ``name`` (bump the generation). Raises StoreError."""
    try:
        with writable_store() as writer:
            access.end_sessions(writer, name)
    except NotFoundError:
        log.info("signed out %r, whose account no longer exists", name)


def sign_in(name: str) -> None:
    """Start a fresh session for ``name`` under its current session generation (clears the
    old session; new CSRF token)."""
    session.clear()
    session.permanent = True
    session["user"] = name
    session[_GENERATION] = session_generation(name) or 0
    csrf_token()


def sign_out() -> None:
    """End every session of the signed-in curator (in the store) and clear this one (a fresh
    CSRF token is issued on the next form). Raises StoreError if the store cannot be written."""
    user = current_user()
    if user is not None:
        end_sessions(user)
        log.info("curator %s signed out; all their sessions ended", user)
    session.clear()


def _check_session() -> None:
    """before_request hook: a session whose curator was signed out (or changed password, or
    was removed) since it was issued is anonymous from now on (its CSRF token stays)."""
    user = session.get("user")
    if user is None:
        return
    generation = session.get(_GENERATION)
    if not isinstance(user, str) or type(generation) is not int or session_generation(user) != generation:
        log.info("ignoring an ended session of %r", user)
        session.pop("user", None)
        session.pop(_GENERATION, None)


def wants_json() -> bool:
    """True for API requests (answered with JSON errors and never redirected)."""
    return request.path.startswith("/api/")


def curator_required(view: Callable) -> Callable:
    """Writes need a signed-in curator: 401 JSON for the API, redirect to /login for pages."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if wants_json():
                abort(401, "sign in as a curator first (POST /api/login)")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def _security_headers(response: Any) -> Any:
    """after_request hook: conservative headers on every response."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def init_security(app: Flask) -> None:
    """Install the CSRF check, the headers and the template helpers on ``app``."""
    app.before_request(_check_session)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
