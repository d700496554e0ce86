"""A circuit breaker for the LLM endpoint: after failures in a row, stop calling it for a while, then try again.

While an endpoint is down every answer would otherwise wait for its call to fail (up to the timeout) before
falling back to the extractive composer, and a queue of questions would build up behind it. The breaker opens
after `failures` failed calls in a row; while open, calls fail at once (the composer falls back straight away).
When the cool-down has passed one trial call goes through: success closes the breaker (the service has recovered
by itself), failure opens it again for twice as long, up to `max_cooldown_s`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Literal

from bedside.errors import UpstreamError

if TYPE_CHECKING:
    from bedside.answer.llm import ChatClient

__all__ = ["CircuitBreaker", "GuardedClient"]

State = Literal["closed", "open", "trial"]


class CircuitBreaker:
    """Thread-safe failure counting for one endpoint; the clock is an input so tests control time."""

    def __init__(
        self,
        failures: int = 3,
        cooldown_s: float = 30.0,
        max_cooldown_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._failed = 0  # failures in a row
        self._opened_for = 0.0  # the current cool-down (0 while closed)
        self._reopen_at = 0.0
        self._trial = False  # a trial call is in flight

    @property
    def state(self) -> State:
        """closed: calls go through; open: calls fail at once; trial: one call is testing the endpoint."""
        with self._lock:
            if self._trial:
                return "trial"
            return "open" if self._opened_for and self.clock() < self._reopen_at else "closed"

    def retry_in(self) -> float:
        """Seconds until a call may go through again (0 when one may now)."""
        with self._lock:
            return max(0.0, self._reopen_at - self.clock()) if self._opened_for else 0.0

    def before_call(self) -> None:
        """Let a call through, or raise UpstreamError at once while the endpoint is paused."""
        with self._lock:
            if not self._opened_for:
                return
            wait, failed = self._reopen_at - self.clock(), self._failed
            if wait <= 0 and not self._trial:
                self._trial = True  # this call is the trial; the others keep failing fast until it returns
                return
        seconds = math.ceil(max(wait, 1.0))
        raise UpstreamError(f"LLM endpoint paused after {failed} failed calls in a row; trying it again in {seconds} s")

    def succeeded(self) -> None:
        """A call worked: close the breaker."""
        with self._lock:
            self._failed, self._opened_for, self._reopen_at, self._trial = 0, 0.0, 0.0, False

    def failed(self) -> None:
        """A call failed: count it, and open (or re-open for longer) when the limit is reached."""
        with self._lock:
            self._failed += 1
            trial, self._trial = self._trial, False
            if trial or self._failed >= self.failures:
                self._opened_for = min(self._opened_for * 2, self.max_cooldown_s) if trial else self.cooldown_s
                self._reopen_at = self.clock() + self._opened_for

    def abandoned(self) -> None:
        """A call ended without an answer either way (e.g. interrupted): free the trial slot."""
        with self._lock:
            self._trial = False


class GuardedClient:
    """A ChatClient that asks the breaker before each call and tells it how the call went.

    `around` wraps the network wait itself: a caller that serialises access to shared state can release its
    lock for that time (the reply is only text; nothing shared is touched while waiting for it).
    """

    def __init__(
        self,
        client: ChatClient,
        breaker: CircuitBreaker,
        around: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self.client = client
        self.breaker = breaker
        self.around = around

    def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
        """The reply, or UpstreamError (at once while the endpoint is paused)."""
        self.breaker.before_call()
        try:
            with self.around():
                reply = self.client.complete(messages, on_delta=on_delta)
        except UpstreamError:
            self.breaker.failed()
            raise
        except BaseException:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        return reply
