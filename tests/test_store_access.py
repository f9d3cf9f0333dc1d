"""Sign-in bookkeeping in the store: session generations and the failed sign-in ledger."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from indexer.errors import NotFoundError
from indexer.store import Store, access, curation, migrations


@pytest.fixture()
def store(tmp_path: Path):
    with Store.open(tmp_path / "index") as st:
        curation.add_user(st, "alice", "correct horse")
        yield st


def test_generation_is_bumped_by_ending_sessions_and_by_a_new_password(store):
    assert access.session_generation(store, "alice") == 0
    assert access.session_generation(store, "nobody") is None
    assert access.end_sessions(store, "alice") == 1
    curation.set_password(store, "alice", "battery staple")
    assert access.session_generation(store, "alice") == 2
    assert curation.check_password(store, "alice", "battery staple")
    curation.add_user(store, "alice", "another password")  # add on an existing name: a new password
    assert access.session_generation(store, "alice") == 3
    with pytest.raises(NotFoundError):
        access.end_sessions(store, "nobody")
    with pytest.raises(NotFoundError, match="user add"):
        curation.set_password(store, "nobody", "long enough")


def test_ledger_counts_per_key_within_the_window(store):
    limits = {"a": 2, "b": 5}
    assert access.begin_sign_in(store, limits, 10, now=0.0).allowed
    assert access.begin_sign_in(store, limits, 10, now=1.0).allowed
    locked = access.begin_sign_in(store, limits, 10, now=2.0)
    assert locked.wait == pytest.approx(8.0)  # until the first failure leaves the window
    assert access.begin_sign_in(store, {"b": 5}, 10, now=2.0).allowed  # "b" had only 2
    assert access.begin_sign_in(store, limits, 10, now=10.5).allowed  # the first one left


def test_success_removes_the_attempt_and_forgotten_keys(store):
    limits = {"pair": 2, "wide": 3}
    access.begin_sign_in(store, limits, 60, now=0.0)
    attempt = access.begin_sign_in(store, limits, 60, now=1.0)
    access.sign_in_succeeded(store, attempt, forget=["pair"])
    assert access.begin_sign_in(store, limits, 60, now=2.0).allowed  # pair: forgotten; wide: 2
    assert access.begin_sign_in(store, limits, 60, now=3.0).allowed  # pair: 2; wide: 3
    assert not access.begin_sign_in(store, limits, 60, now=4.0).allowed  # both full


def test_parallel_attempts_never_pass_the_limit(tmp_path, store):
    """Each thread has its own store (connection), as separate requests and processes do."""
    results, barrier = [], threading.Barrier(12)

    def attempt() -> None:
        with Store.open(store.data_dir) as mine:
            barrier.wait()
            results.append(access.begin_sign_in(mine, {"k": 5}, 600, now=100.0).allowed)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True] * 5


def test_bad_limits_are_refused(store):
    with pytest.raises(ValueError):
        access.begin_sign_in(store, {"k": 0}, 10, now=0.0)
    with pytest.raises(ValueError):
        access.begin_sign_in(store, {"": 3}, 10, now=0.0)


def test_old_store_is_migrated_and_keeps_its_accounts(tmp_path, monkeypatch):
    path = tmp_path / "index"
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        patch.setattr(migrations, "SCHEMA_VERSION", 1)
        Store.open(path).close()
    conn = sqlite3.connect(path / Store.CATALOG)  # an account as the version 1 code made it
    with conn:
        conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, 0)",
                     ("bob", curation.hash_password("a good password")))
    conn.close()
    with Store.open(path) as new:
        assert access.session_generation(new, "bob") == 0
        assert curation.check_password(new, "bob", "a good password")
        assert access.begin_sign_in(new, {"k": 1}, 10, now=0.0).allowed
    conn = sqlite3.connect(path / Store.CATALOG)
    assert migrations.schema_version(conn) == migrations.SCHEMA_VERSION
    conn.close()
