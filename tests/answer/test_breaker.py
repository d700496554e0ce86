"""The LLM circuit breaker: opens after failures in a row, fails fast while open, one trial call, recovers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from bedside.answer.breaker import CircuitBreaker, GuardedClient
from bedside.errors import UpstreamError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A chat client that fails while `down` and counts the calls that reached it."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
        self.calls += 1
        if self.down:
            raise UpstreamError("LLM endpoint http://127.0.0.1:9 refused the connection")
        return "reply"


def guarded(failures: int = 3, cooldown: float = 30.0) -> tuple[GuardedClient, Endpoint, Clock]:
    clock, endpoint = Clock(), Endpoint()
    return GuardedClient(endpoint, CircuitBreaker(failures, cooldown, 120.0, clock)), endpoint, clock


def test_opens_after_failures_in_a_row_then_fails_fast_without_calling() -> None:
    client, endpoint, _ = guarded(failures=3)
    for _ in range(3):
        with pytest.raises(UpstreamError, match="refused"):
            client.complete([])
    assert endpoint.calls == 3 and client.breaker.state == "open"
    with pytest.raises(UpstreamError, match=r"paused after 3 failed calls in a row; trying it again in 30 s"):
        client.complete([])
    assert endpoint.calls == 3  # the endpoint was not called while paused


def test_a_success_resets_the_count() -> None:
    client, endpoint, _ = guarded(failures=2)
    with pytest.raises(UpstreamError):
        client.complete([])
    endpoint.down = False
    assert client.complete([]) == "reply"
    endpoint.down = True
    with pytest.raises(UpstreamError, match="refused"):
        client.complete([])
    assert client.breaker.state == "closed"  # one failure after a success does not open it


def test_recovers_by_itself_after_the_cooldown_and_backs_off_while_trials_fail() -> None:
    client, endpoint, clock = guarded(failures=1, cooldown=30.0)
    with pytest.raises(UpstreamError):
        client.complete([])
    clock.now += 30
    with pytest.raises(UpstreamError, match="refused"):  # the trial call reaches the endpoint and fails
        client.complete([])
    assert endpoint.calls == 2 and client.breaker.retry_in() == 60  # twice as long now
    clock.now += 59
    with pytest.raises(UpstreamError, match="paused"):
        client.complete([])
    clock.now += 1
    endpoint.down = False
    assert client.complete([]) == "reply"  # back up: closed again
    assert client.breaker.state == "closed" and client.breaker.retry_in() == 0
    for _ in range(3):
        client.complete([])
    assert endpoint.calls == 6


def test_backoff_is_capped() -> None:
    client, _, clock = guarded(failures=1, cooldown=30.0)
    for _ in range(8):
        with pytest.raises(UpstreamError):
            client.complete([])
        clock.now += client.breaker.retry_in()
    assert client.breaker.retry_in() == 0 and client.breaker._opened_for == 120.0


def test_only_one_trial_call_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, 60.0, clock)
    started, release = threading.Event(), threading.Event()

    class Slow:
        calls = 0

        def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
            Slow.calls += 1
            started.set()
            release.wait(5)
            return "ok"

    breaker.failed()
    clock.now += 10
    client = GuardedClient(Slow(), breaker)
    trial = threading.Thread(target=client.complete, args=([],))
    trial.start()
    assert started.wait(5)
    assert breaker.state == "trial"
    with pytest.raises(UpstreamError, match="paused"):
        client.complete([])  # a second caller does not pile onto the endpoint during the trial
    release.set()
    trial.join(5)
    assert Slow.calls == 1 and breaker.state == "closed"


def test_an_interrupted_call_frees_the_trial_and_the_wait_hook_wraps_only_the_call() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, 60.0, clock)
    breaker.failed()
    clock.now += 10
    entered: list[str] = []

    class Interrupted:
        def complete(self, messages: list[dict[str, str]], *, on_delta: Callable[[str], None] | None = None) -> str:
            entered.append("call")
            raise KeyboardInterrupt

    class Around:
        def __enter__(self) -> None:
            entered.append("enter")

        def __exit__(self, *exc: object) -> None:
            entered.append("exit")

    with pytest.raises(KeyboardInterrupt):
        GuardedClient(Interrupted(), breaker, Around).complete([])
    assert entered == ["enter", "call", "exit"]
    endpoint = Endpoint()
    endpoint.down = False
    assert GuardedClient(endpoint, breaker).complete([]) == "reply"  # the next caller gets to make the trial
    assert breaker.state == "closed"
