"""Failed sign-ins counted per (account, client address) in a sliding window.

Keyed by both, so guessing one account's password from one address is slowed down while the same person signs in
from elsewhere, and everyone else signs in as usual. Counts live in the process: each worker keeps its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """At most `limit` failures per key in any `window_s` seconds; a success clears the key."""

    def __init__(
        self, limit: int = 5, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:  # fmt: skip
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(email: str, address: str) -> tuple[str, str]:
        """The key for an account (as typed, normalised) and a client address."""
        return email.strip().lower(), address

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until this key may try again; 0 when it may try now."""
        with self._lock:
            recent = self._recent(key)
            if recent is None or len(recent) < self.limit:
                return 0
            return max(1, math.ceil(recent[0] + self.window_s - self.clock()))

    def failed(self, key: tuple[str, str]) -> None:
        """Count one failed attempt."""
        with self._lock:
            recent = self._recent(key)
            if recent is None:
                if len(self._failures) >= self.max_keys:
                    self._sweep()
                recent = self._failures[key] = deque(maxlen=self.limit)
            recent.append(self.clock())

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget this key's failures."""
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[float] | None:
        recent = self._failures.get(key)
        if recent is None:
            return None
        cutoff = self.clock() - self.window_s
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if not recent:
            del self._failures[key]
            return None
        return recent

    def _sweep(self) -> None:
        for key in list(self._failures):
            self._recent(key)
        while len(self._failures) >= self.max_keys:  # still full: the oldest keys go first
            del self._failures[next(iter(self._failures))]
