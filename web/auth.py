"""Curator sign-in and sign-out (pages and JSON).

Accounts are made on the server with ``reelsearch user add NAME``; passwords are checked by
:mod:`indexer.store.curation` (a standard KDF, constant-time comparison). A failed sign-in says only
that the name or password is wrong and waits a moment, to slow down guessing; after
``LOGIN_FAILURES`` failures from one address within ``LOGIN_WINDOW`` seconds that address gets
429 until the window has passed.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)

from . import throttle
from .segment_edits import verify_curator
from .security import csrf_token, current_user, sign_in, sign_out

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

FAILED_LOGIN_DELAY = 0.5  # seconds


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site, never a control
    character that could split the Location header)."""
    if not target:
        return url_for("pages.search")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(unicodedata.category(c).startswith("C") for c in target):
        return url_for("pages.search")
    return target


def _policy() -> throttle.ThrottlePolicy:
    ext = current_app.extensions
    if "reelsearch.sign_in_policy" not in ext:
        ext["reelsearch.sign_in_policy"] = throttle.ThrottlePolicy.from_config(current_app.config)
    return ext["reelsearch.sign_in_policy"]


def _check(name: str, password: str) -> bool:
    """True for a right name and password. Aborts 429 (with Retry-After) while locked out."""
    address = request.remote_addr or "?"
    attempt = throttle.begin(_policy(), name, address)
    if not attempt.allowed:
        wait = throttle.retry_after(attempt)
        log.warning("sign-in for %r from %s refused: too many failures (locked for %d s)", name, address, wait)
        abort(429, f"too many failed sign-ins; try again in {wait // 60 + 1} min", retry_after=wait)
    ok = bool(name) and bool(password) and verify_curator(name, password)
    if ok:
        throttle.succeeded(attempt, name, address)
    else:
        log.warning("failed sign-in for %r from %s", name, address)
        time.sleep(FAILED_LOGIN_DELAY)
    return ok


def _start_session(name: str) -> None:
    sign_in(name)
    log.info("curator %s signed in from %s", name, request.remote_addr)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign-in form; POST checks the password and starts a fresh session."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=next_url, name="", error=None)
    name = request.form.get("name", "").strip()
    if not _check(name, request.form.get("password", "")):
        return render_template("login.html", next=next_url, name=name,
                               error="Wrong name or password."), 401
    _start_session(name)
    flash(f"Signed in as {name}.", "success")
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """Sign out (POST with CSRF token, so a link on another site cannot sign you out)."""
    sign_out()
    flash("Signed out.", "info")
    return redirect(url_for("pages.search"))


@bp.get("/api/session")
def api_session():
    """Who is signed in, and the CSRF token JSON clients send as X-CSRF-Token."""
    return jsonify(user=current_user(), csrf_token=csrf_token())


@bp.post("/api/login")
def api_login():
    """JSON sign-in: {"name", "password"} -> {"user", "csrf_token"} (needs X-CSRF-Token)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object {"name": ..., "password": ...}')
    name = str(body.get("name") or "").strip()
    if not _check(name, str(body.get("password") or "")):
        abort(401, "wrong name or password")
    _start_session(name)
    return jsonify(user=name, csrf_token=csrf_token())


@bp.post("/api/logout")
def api_logout():
    """JSON sign-out."""
    sign_out()
    return jsonify(user=None, csrf_token=csrf_token())
