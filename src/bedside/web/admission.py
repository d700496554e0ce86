"""Admission control for composing new answers: a bounded number at once, a bounded queue, a bounded wait.

Composing takes tens of milliseconds extractively and seconds with an LLM. Without a bound, a burst of new
questions would queue in the server's worker threads until clients time out, and every other page would wait
for a thread. Instead, at most `concurrency` answers are composed at once and at most `queue` more wait (each for
at most `wait_s` seconds); a request beyond that is refused at once with 503 and a Retry-After estimated from
how long recent answers took. Questions that already have an article never need a slot, and a request whose
client has gone away leaves the line without composing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bedside.errors import BackendUnavailable

__all__ = ["Abandoned", "AskGate", "Overloaded"]

POLL_S = 0.25  # how often a waiting request checks that its client is still there


class Overloaded(BackendUnavailable):
    """Too many answers are being composed; try again after `retry_after` seconds (sent as Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Abandoned(BackendUnavailable):
    """The client disconnected while its request waited in line: nothing was composed or written."""


class AskGate:
    """A counting gate with a bounded waiting line; thread-safe (handlers run in worker threads)."""

    def __init__(
        self, concurrency: int, queue: int, wait_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.wait_s = wait_s
        self.clock = clock
        self._cond = threading.Condition()
        self._active = 0
        self._waiting = 0
        self._typical_s = 1.0  # moving average of how long an admitted answer takes
        self.refused = 0

    @property
    def load(self) -> tuple[int, int]:
        """(answers being composed, requests waiting)."""
        with self._cond:
            return self._active, self._waiting

    def check(self) -> None:
        """Overloaded when a request arriving now would be refused at once."""
        with self._cond:
            if self._active >= self.concurrency and self._waiting >= self.queue:
                raise self._refuse("too many questions are being answered right now")

    @contextmanager
    def admit(self, gone: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold a slot while composing; Overloaded when the line is full or the wait runs out, Abandoned when
        `gone()` (asked a few times a second while waiting, never holding the gate's lock) says the client left."""
        self._enter(gone)
        started = self.clock()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._typical_s = 0.8 * self._typical_s + 0.2 * max(self.clock() - started, 0.001)
                self._cond.notify()

    def _enter(self, gone: Callable[[], bool] | None) -> None:
        with self._cond:
            if self._active < self.concurrency and not self._waiting:
                self._active += 1
                return
            if self._waiting >= self.queue:
                raise self._refuse("too many questions are being answered right now")
            self._waiting += 1
            deadline = self.clock() + self.wait_s
        while True:
            with self._cond:
                if self._active < self.concurrency:
                    self._waiting -= 1
                    self._active += 1
                    return
                left = deadline - self.clock()
                if left <= 0:
                    self._waiting -= 1
                    raise self._refuse(f"no answer slot came free within {self.wait_s:g} s")
                self._cond.wait(min(left, POLL_S) if gone is not None else left)
                if self._active < self.concurrency:
                    continue
            if gone is not None and gone():
                with self._cond:
                    self._waiting -= 1
                    self._cond.notify()  # the slot this one might have been woken for goes to the next in line
                raise Abandoned("the client went away while its question waited for an answer slot")

    def _refuse(self, why: str) -> Overloaded:
        """The error for a refused request (called holding the lock)."""
        self.refused += 1
        ahead = self._active + self._waiting
        retry_after = max(1, math.ceil(self._typical_s * ahead / self.concurrency))
        return Overloaded(f"bedside is busy: {why}; please try again in {retry_after} s", retry_after)
