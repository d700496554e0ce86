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

__all__ = ["LoginLimiter", "LoginThrottle"]


class LoginLimiter:
    """At most `limit` failures per key in any `window_s` seconds; a success clears the key."""

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
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


class LoginThrottle:
    """Sign-in throttling that slows guessing without letting anyone lock a reviewer out.

    - By address: at most `per_address` failures from one client address in `window_s`, whatever the accounts,
      after which that address waits (one client spraying many accounts is slowed).
    - By account, with backoff: after `free` failures in a row on an account (from anywhere), each further attempt
      on it from a browser that has not signed in to it before waits 1, 2, 4, ... seconds after the last failure,
      at most `max_backoff_s` (a guesser spread over many addresses is slowed).
    - A browser that has signed in to the account before (a signed device cookie) skips the account's backoff, so
      failures by others never keep the account's owner out; it has its own limit of `per_device` failures in
      `window_s`.
    - By password: one password failing on `spray_accounts` different accounts in `window_s` is refused for
      browsers new to the account (spraying a common password across accounts). Passwords are keyed by an HMAC
      under the server's key, held in memory only.

    Counts live in the process: each worker keeps its own.
    """

    def __init__(
        self,
        per_address: int = 20,
        free: int = 5,
        per_device: int = 5,
        spray_accounts: int = 10,
        window_s: float = 900.0,
        max_backoff_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.free = free
        self.max_backoff_s = max_backoff_s
        self.spray_accounts = spray_accounts
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self.addresses = LoginLimiter(per_address, window_s, clock, max_keys)
        self.devices = LoginLimiter(per_device, window_s, clock, max_keys)
        self._streaks: dict[str, tuple[int, float]] = {}  # account -> (failures in a row, time of the last)
        self._sprays: dict[str, dict[str, float]] = {}  # password key -> account -> time of its last failure
        self._lock = threading.Lock()

    def retry_after(self, account: str, address: str, device: str, password_key: str) -> tuple[int, str]:
        """Seconds to wait before this attempt may be checked (0: go ahead), and which limit says so."""
        account = account.strip().lower()
        wait = self.addresses.retry_after(("", address))
        if wait:
            return wait, "address"
        if device:
            return self.devices.retry_after((account, device)), "device"
        with self._lock:
            streak, last = self._streaks.get(account, (0, 0.0))
            if streak >= self.free:
                backoff = min(self.max_backoff_s, 2.0 ** (streak - self.free))
                left = last + backoff - self.clock()
                if left > 0:
                    return max(1, math.ceil(left)), "account"
            if len(self._recent_spray(password_key)) >= self.spray_accounts:
                return max(1, math.ceil(self.window_s)), "password"
        return 0, ""

    def failed(self, account: str, address: str, device: str, password_key: str) -> None:
        """Count one failed sign-in."""
        account = account.strip().lower()
        now = self.clock()
        self.addresses.failed(("", address))
        if device:
            self.devices.failed((account, device))
            return
        with self._lock:
            if len(self._streaks) >= self.max_keys:
                self._streaks.clear()  # bounded memory: forgetting streaks only ever lets attempts through sooner
            if len(self._sprays) >= self.max_keys:
                self._sprays.clear()
            streak, _ = self._streaks.get(account, (0, 0.0))
            self._streaks[account] = (streak + 1, now)
            self._sprays.setdefault(password_key, {})[account] = now

    def succeeded(self, account: str, address: str, device: str) -> None:
        """A sign-in succeeded: the device's failures are forgotten; from a browser new to the account, so is the
        account's streak (from a known browser it is not: others' guessing goes on being slowed)."""
        account = account.strip().lower()
        if device:
            self.devices.succeeded((account, device))
            return
        with self._lock:
            self._streaks.pop(account, None)

    def _recent_spray(self, password_key: str) -> dict[str, float]:
        accounts = self._sprays.get(password_key, {})
        cutoff = self.clock() - self.window_s
        for account in [a for a, t in accounts.items() if t <= cutoff]:
            del accounts[account]
        if not accounts:
            self._sprays.pop(password_key, None)
        return accounts
