"""Users for bench/load.py (run by it with `locust --headless`; not meant to be started by hand).

Environment: LOAD_SCENARIO = pages | ask | mixed; LOAD_SLUGS and LOAD_QUESTIONS name files with one article slug or
one question per line. `ask` users post questions never asked before (each question once, across all users) and
record every answer a second time under its status ("ask -> 200", "ask -> 503") so refusals are timed apart;
after a refusal a user waits as long as its Retry-After says.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

SCENARIO = os.environ.get("LOAD_SCENARIO", "pages")
SLUGS = Path(os.environ.get("LOAD_SLUGS", "/dev/null")).read_text(encoding="utf-8").split("\n")
SLUGS = [s for s in SLUGS if s]
QUESTIONS = iter(q for q in Path(os.environ.get("LOAD_QUESTIONS", "/dev/null")).read_text("utf-8").split("\n") if q)
SEARCH_WORDS = ["anaemia", "treatment", "diabetes", "pneumonia", "dose", "symptoms", "asthma", "children", "b12"]
_spare = itertools.count()


def next_question() -> str:
    """A question no user has asked yet (numbered copies once the file runs out)."""
    question = next(QUESTIONS, None)
    return question if question else f"What is the treatment for condition number {next(_spare)}?"


class Reader(HttpUser):
    """Reads articles and searches, as clinicians and reviewers browsing do."""

    wait_time = between(0.05, 0.2)
    weight = 0 if SCENARIO == "ask" else 1

    @task(6)
    def article_page(self) -> None:
        self.client.get(f"/articles/{random.choice(SLUGS)}", name="GET /articles/{slug}")

    @task(3)
    def article_json(self) -> None:
        self.client.get(f"/api/articles/{random.choice(SLUGS)}", name="GET /api/articles/{slug}")

    @task(3)
    def search_page(self) -> None:
        self.client.get(f"/search?q={random.choice(SEARCH_WORDS)}", name="GET /search?q=")

    @task(2)
    def static_file(self) -> None:  # the baseline: the same server and middleware, no application work
        self.client.get("/static/css/bedside.css", name="GET /static (baseline)")


class Asker(HttpUser):
    """Asks questions nobody asked before, so every request needs an answer composed."""

    weight = 0 if SCENARIO == "pages" else 1
    resume_at = 0.0

    def wait_time(self) -> float:
        """No pause between questions, except as long as a refusal's Retry-After asked (as polite clients do)."""
        return max(self.resume_at - time.monotonic(), random.uniform(0.0, 0.05))

    @task
    def ask_new(self) -> None:
        started = time.perf_counter()
        with self.client.post(
            "/api/ask", json={"question": next_question()}, name="POST /api/ask (all)", catch_response=True
        ) as response:
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            retry_after = response.headers.get("Retry-After", "")
            if status == 503 and not retry_after.isdigit():
                response.failure("503 without a Retry-After")
            elif status == 503:
                self.resume_at = time.monotonic() + int(retry_after)
                response.success()
            elif status in (200, 503):
                response.success()
            else:
                response.failure(f"unexpected status {status}")
            fire(f"ask -> {status}", elapsed_ms, len(response.content or b""))


def fire(name: str, elapsed_ms: float, size: int) -> None:
    """Record one more sample under `name`."""
    meta: dict[str, Any] = {
        "request_type": "POST",
        "name": name,
        "response_time": elapsed_ms,
        "response_length": size,
        "exception": None,
        "context": {},
    }
    events.request.fire(**meta)
