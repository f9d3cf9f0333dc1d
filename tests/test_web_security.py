"""Sessions end for real, sign-in guessing is throttled, and security events are logged.

- signing out (or a password change) ends every session of the curator, also a copied cookie,
  also after a restart;
- the sign-in throttle counts atomically in the store (parallel guesses cannot pass the limit),
  survives restarts, sends Retry-After and locks one account from one address, not everyone
  behind that address;
- failed sign-ins and CSRF failures are logged at WARNING (the server's default level).
"""

from __future__ import annotations

import logging
import threading

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import CURATOR, PASSWORD, csrf_of, make_app, sign_in

from indexer.errors import NotFoundError
from indexer.store import Store, curation

COOKIE = "reelsearch_session"


@pytest.fixture()
def no_delay(monkeypatch):
    import web.auth

    monkeypatch.setattr(web.auth, "FAILED_LOGIN_DELAY", 0.0)


def _copy_session(source, target) -> None:
    target.set_cookie(COOKIE, source.get_cookie(COOKIE).value)


def _reject(client, token: str, segment_id: int):
    return client.post(f"/api/segments/{segment_id}/reject", headers={"X-CSRF-Token": token})


def _first_segment(client, data) -> int:
    return client.get(f"/api/videos/{data.ids['harbour']}").get_json()["segments"][0]["id"]


# --- sessions -----------------------------------------------------------------------------

def test_sign_out_ends_a_copied_session(rw_app, writable_data):
    browser, thief = rw_app.test_client(), rw_app.test_client()
    token = sign_in(browser)
    _copy_session(browser, thief)
    assert thief.get("/api/session").get_json()["user"] == CURATOR  # the copy works while signed in
    assert browser.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
    assert thief.get("/api/session").get_json()["user"] is None
    refused = _reject(thief, token, _first_segment(thief, writable_data))
    assert refused.status_code == 401


def test_page_sign_out_ends_every_session_of_the_curator(rw_app):
    laptop, phone = rw_app.test_client(), rw_app.test_client()
    sign_in(laptop)
    sign_in(phone)
    token = csrf_of(laptop)
    assert laptop.post("/logout", data={"csrf_token": token}).status_code == 302
    assert phone.get("/api/session").get_json()["user"] is None
    sign_in(phone)  # signing in again works
    assert phone.get("/api/session").get_json()["user"] == CURATOR


def test_ended_session_stays_ended_after_a_restart(writable_data):
    first = make_app(writable_data)
    browser, thief = first.test_client(), first.test_client()
    token = sign_in(browser)
    _copy_session(browser, thief)
    browser.post("/api/logout", headers={"X-CSRF-Token": token})
    first.extensions["reelsearch"].close()
    second = make_app(writable_data)  # same secret key, new process state
    try:
        replay = second.test_client()
        _copy_session(thief, replay)
        assert replay.get("/api/session").get_json()["user"] is None
    finally:
        second.extensions["reelsearch"].close()


def test_password_change_ends_sessions(rw_app, writable_data):
    client = rw_app.test_client()
    token = sign_in(client)
    with Store.open(writable_data.data_dir) as store:
        curation.set_password(store, CURATOR, "a new long password")
    assert client.get("/api/session").get_json()["user"] is None
    assert _reject(client, token, _first_segment(client, writable_data)).status_code == 401
    sign_in(client, password="a new long password")


def test_a_removed_curator_is_signed_out_and_cannot_sign_in(rw_app, writable_data):
    client = rw_app.test_client()
    token = sign_in(client)
    segment = _first_segment(client, writable_data)
    assert _reject(client, token, segment).status_code == 200
    with Store.open(writable_data.data_dir) as store:
        curation.remove_user(store, CURATOR)
        assert CURATOR not in curation.list_users(store)
        history = curation.audit(store, writable_data.ids["harbour"])
    assert [(entry.user, entry.action, entry.segment_id) for entry in history] == [(CURATOR, "reject", segment)]
    assert client.get("/api/session").get_json()["user"] is None
    assert _reject(client, token, segment).status_code == 401
    with pytest.raises(AssertionError):
        sign_in(client)
    with Store.open(writable_data.data_dir) as store, pytest.raises(NotFoundError, match="no curator account"):
        curation.remove_user(store, CURATOR)


def test_tampered_session_generation_is_anonymous(rw_app):
    client = rw_app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session["session_generation"] = "0"
    assert client.get("/api/session").get_json()["user"] is None


# --- throttle -----------------------------------------------------------------------------

def _attempt(app, password: str = "guess", name: str = CURATOR, address: str = "10.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_of(client)
    return client.post("/api/login", json={"name": name, "password": password},
                       headers={"X-CSRF-Token": token})


def test_parallel_guesses_never_pass_the_limit(writable_data, no_delay):
    app = make_app(writable_data, LOGIN_FAILURES=10)
    statuses, barrier = [], threading.Barrier(16)

    def guess() -> None:
        barrier.wait()
        statuses.append(_attempt(app).status_code)

    try:
        threads = [threading.Thread(target=guess) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        app.extensions["reelsearch"].close()
    assert sorted(statuses) == [401] * 10 + [429] * 6


def test_lockout_survives_a_restart_and_says_when_to_retry(writable_data, no_delay):
    app = make_app(writable_data, LOGIN_FAILURES=3, LOGIN_WINDOW=600)
    assert [_attempt(app).status_code for _ in range(3)] == [401, 401, 401]
    app.extensions["reelsearch"].close()
    restarted = make_app(writable_data, LOGIN_FAILURES=3, LOGIN_WINDOW=600)
    try:
        locked = _attempt(restarted, password=PASSWORD)
        assert locked.status_code == 429
        assert 590 <= int(locked.headers["Retry-After"]) <= 600
        assert "too many failed sign-ins" in locked.get_json()["error"]
    finally:
        restarted.extensions["reelsearch"].close()


def test_lockout_is_per_account_and_address(writable_data, no_delay):
    with Store.open(writable_data.data_dir) as store:
        curation.add_user(store, "bob", "bobs password")
    app = make_app(writable_data, LOGIN_FAILURES=3, LOGIN_FAILURES_ACCOUNT=5, LOGIN_FAILURES_ADDRESS=5)
    try:
        assert [_attempt(app).status_code for _ in range(4)] == [401, 401, 401, 429]
        # a colleague behind the same proxy still signs in, and alice from home
        assert _attempt(app, "bobs password", name="bob").status_code == 200
        assert _attempt(app, PASSWORD, address="10.9.9.9").status_code == 200
        # the wider limits: alice from many addresses, or one address trying many accounts
        assert [_attempt(app, address=f"10.1.0.{i}").status_code for i in range(3)] == [401, 401, 429]
        assert [_attempt(app, name=f"user{i}", address="10.0.0.2").status_code for i in range(6)] \
            == [401] * 5 + [429]
    finally:
        app.extensions["reelsearch"].close()


def test_success_clears_the_pair_count(writable_data, no_delay):
    app = make_app(writable_data, LOGIN_FAILURES=3)
    try:
        assert [_attempt(app).status_code for _ in range(2)] == [401, 401]
        assert _attempt(app, PASSWORD).status_code == 200
        assert [_attempt(app).status_code for _ in range(4)] == [401, 401, 401, 429]
    finally:
        app.extensions["reelsearch"].close()


# --- logging ------------------------------------------------------------------------------

def test_failed_sign_in_and_csrf_failure_are_logged_without_secrets(rw_app, caplog, no_delay):
    with caplog.at_level(logging.WARNING):
        assert _attempt(rw_app, password="hunter2-secret").status_code == 401
        client = rw_app.test_client()
        assert client.post("/api/login", json={"name": CURATOR, "password": PASSWORD},
                           headers={"X-CSRF-Token": "forged"}).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("failed sign-in for 'alice' from 10.0.0.1" in line for line in lines)
    assert any("CSRF check failed for POST /api/login" in line for line in lines)
    assert not any("hunter2" in line or PASSWORD in line for line in lines)
    assert len(lines) == 2
