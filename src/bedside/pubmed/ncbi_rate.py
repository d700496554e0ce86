"""One request rate per NCBI key, shared by every thread and process that uses it.

NCBI allows 3 requests a second without an API key and 10 with one, counted per key (or per address without one),
so the limit must hold across every bedside worker on the machine, not per client object. Each key has a small
file in the data directory holding the earliest time the next request may start; a worker takes an exclusive
lock on the file, books the next slot (at least 1/rate after the previous one) and sleeps until it. Workers thus
queue in booking order, and a crashed worker leaves at most one unused slot behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["RateLimit", "rate_for"]

_SLOT = struct.Struct("<d")


def rate_for(api_key: str) -> float:
    """NCBI's published limit: requests a second with or without an API key."""
    return 10.0 if api_key else 3.0


class RateLimit:
    """A spacing limit (one request every 1/rate seconds) kept in a file, safe across threads and processes."""

    def __init__(
        self,
        folder: Path,
        key: str,
        rate: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        folder.mkdir(parents=True, exist_ok=True)
        # The key itself never reaches the disk: only a digest names its file.
        name = hashlib.sha256(key.encode()).hexdigest()[:16] if key else "anonymous"
        self.path = folder / f"ratelimit-{name}"
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Wait for this worker's turn; returns the time (the clock's) the turn was booked for."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, _SLOT.size, 0)
            booked = _SLOT.unpack(raw)[0] if len(raw) == _SLOT.size else 0.0
            now = self._clock()
            start = max(now, booked)
            os.pwrite(fd, _SLOT.pack(start + self.interval), 0)
        finally:
            os.close(fd)  # closing releases the lock
        if start > now:
            self._sleep(start - now)
        return start
