"""A sign-in throttle: too many failed attempts from one address lock it out for a while.

In-process and in-memory (one waitress process serves the app); counts reset on success.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureThrottle:
    """At most ``limit`` failures per key within ``window`` seconds; then the key waits."""

    def __init__(self, limit: int = 10, window: float = 600.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0 seconds")
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: str, now: float | None = None) -> float:
        """Seconds ``key`` must wait before it may try again (0: it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._prune(key, now)
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - now)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._prune(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
