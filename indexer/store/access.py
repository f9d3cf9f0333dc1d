"""Sign-in bookkeeping in the catalog: revocable curator sessions and the failed sign-in ledger.

Sessions: every curator account has a session generation. A session remembers the generation
it was issued under; it is valid only while the account still has that generation, so bumping it
(:func:`end_sessions`: on sign-out, and when the password changes) ends every session of that
curator at once, in every server process and across restarts.

Failed sign-ins: one row per (key, time) in ``sign_in_failures``; a key names what is counted
(one account from one address, one account, one address: the caller's policy). :func:`begin_sign_in`
checks and records an attempt in one write transaction, so parallel guesses cannot slip past
the limit, and the ledger outlives restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.errors import NotFoundError
from indexer.store.facade import Store

MAX_KEY_CHARS = 300


def session_generation(store: Store, name: str) -> int | None:
    """The account's current session generation, or None when there is no such account."""
    with store.catalog.read() as conn:
        row = conn.execute("SELECT session_generation FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def end_sessions(store: Store, name: str) -> int:
    """End every session of ``name`` (bump its generation); return the new generation.

    Raises: NotFoundError (no such account), StoreError (read-only store).
    """
    with store.catalog.write() as conn:
        return bump_generation(conn, name)


def bump_generation(conn: sqlite3.Connection, name: str) -> int:
    """Inside a write transaction: bump ``name``'s session generation. Raises NotFoundError."""
    row = conn.execute("UPDATE users SET session_generation = session_generation + 1 WHERE name = ? "
                       "RETURNING session_generation", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"no curator account {name!r}")
    return int(row[0])


@dataclass(frozen=True)
class Attempt:
    """The outcome of :func:`begin_sign_in`: ``wait`` > 0 means locked out for that many seconds
    (nothing recorded); otherwise ``ids`` are the ledger rows that count this attempt as a
    failure until :func:`sign_in_succeeded` removes them."""

    wait: float
    ids: tuple[int, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.wait <= 0


def _key(key: str) -> str:
    if not key:
        raise ValueError("a sign-in ledger key must not be empty")
    return key[:MAX_KEY_CHARS]


def begin_sign_in(store: Store, limits: Mapping[str, int], window: float, now: float) -> Attempt:
    """Check and count one sign-in attempt against every key in ``limits`` (key -> most failures
    allowed within ``window`` seconds before ``now``), atomically.

    Failures older than the window are forgotten. If any key already has its limit, the attempt
    is refused: ``Attempt(wait)`` with the seconds until the oldest failures that lock it leave the
    window. Otherwise one failure is recorded per key and returned as ``Attempt(0, ids)``.

    Raises: ValueError (empty key, limit < 1, window <= 0), StoreError (read-only store).
    """
    if window <= 0 or any(limit < 1 for limit in limits.values()):
        raise ValueError("the window must be > 0 seconds and every limit >= 1")
    keys = {_key(key): limit for key, limit in limits.items()}
    with store.catalog.write() as conn:
        conn.execute("DELETE FROM sign_in_failures WHERE at <= ?", (now - window,))
        wait = 0.0
        for key, limit in keys.items():
            times = [r[0] for r in conn.execute(
                "SELECT at FROM sign_in_failures WHERE key = ? ORDER BY at", (key,))]
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + window - now)
        if wait > 0:
            return Attempt(wait)
        ids = tuple(conn.execute("INSERT INTO sign_in_failures (key, at) VALUES (?, ?) RETURNING id",
                                 (key, now)).fetchone()[0] for key in keys)
    return Attempt(0.0, ids)


def sign_in_succeeded(store: Store, attempt: Attempt, forget: Sequence[str] = ()) -> None:
    """The attempt was right: remove its rows, and every failure counted under ``forget``.

    Raises: StoreError (read-only store).
    """
    with store.catalog.write() as conn:
        conn.executemany("DELETE FROM sign_in_failures WHERE id = ?", [(i,) for i in attempt.ids])
        conn.executemany("DELETE FROM sign_in_failures WHERE key = ?", [(_key(k),) for k in forget])
