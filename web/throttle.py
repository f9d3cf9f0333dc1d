"""The sign-in throttle: failed attempts lock out one account from one address, and (with wider
limits) one account from everywhere and one address against every account.

Counting one account from one address means that a stranger guessing behind the same proxy locks
out only that account from that address, not every curator there; the wider limits stop a guesser
who spreads over many addresses or many accounts. The counts live in the store
(:mod:`indexer.store.access`): checked and incremented in one transaction, so parallel guesses
cannot slip past a limit, and kept across restarts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping

from indexer.store import access

from .archive import writable_store


@dataclass(frozen=True)
class ThrottlePolicy:
    """Most failures allowed within ``window`` seconds per account and address, per account and
    per address."""

    per_account_and_address: int = 10
    per_account: int = 50
    per_address: int = 50
    window: float = 600.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThrottlePolicy:
        """From ``LOGIN_FAILURES``, ``LOGIN_FAILURES_ACCOUNT``, ``LOGIN_FAILURES_ADDRESS`` and
        ``LOGIN_WINDOW``. Raises ValueError for a limit < 1 or a window <= 0."""
        policy = cls(int(config["LOGIN_FAILURES"]), int(config["LOGIN_FAILURES_ACCOUNT"]),
                     int(config["LOGIN_FAILURES_ADDRESS"]), float(config["LOGIN_WINDOW"]))
        if min(policy.per_account_and_address, policy.per_account, policy.per_address) < 1 \
                or not policy.window > 0:
            raise ValueError("sign-in limits must be >= 1 and LOGIN_WINDOW > 0 seconds")
        return policy

    def limits(self, name: str, address: str) -> dict[str, int]:
        """Ledger key -> limit for an attempt on ``name`` from ``address``."""
        return {pair_key(name, address): self.per_account_and_address,
                f"account:{name}": self.per_account, f"address:{address}": self.per_address}


def pair_key(name: str, address: str) -> str:
    return f"account+address:{name}\n{address}"


def begin(policy: ThrottlePolicy, name: str, address: str) -> access.Attempt:
    """Count an attempt before the password is checked (refused when locked out). Raises StoreError."""
    with writable_store() as writer:
        return access.begin_sign_in(writer, policy.limits(name, address), policy.window, time.time())


def succeeded(attempt: access.Attempt, name: str, address: str) -> None:
    """The password was right: the attempt does not count, nor earlier ones of this account
    from this address. Raises StoreError."""
    with writable_store() as writer:
        access.sign_in_succeeded(writer, attempt, forget=[pair_key(name, address)])


def retry_after(attempt: access.Attempt) -> int:
    """Whole seconds to send in Retry-After (at least 1)."""
    return max(1, math.ceil(attempt.wait))
