"""Overload and outages: new questions beyond the queue are refused at once with Retry-After while pages and known
questions are still served; an LLM outage pauses the endpoint and the service recovers by itself."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from editorial_support import ask_form
from fastapi.testclient import TestClient

from bedside.errors import BackendUnavailable
from bedside.text.slugs import slug_for
from bedside.web.admission import AskGate, Overloaded
from chat_replies import send_chat_reply
from conftest import QUESTION, FakeLlm, LiveServer, draft_from, make_app

# Questions the starter knowledge base covers (so the answer goes to the LLM when one is configured).
COVERED = [
    "How is hypertension diagnosed?",
    "What is the first-line treatment for type 2 diabetes?",
    "What is the treatment for iron deficiency anaemia?",
    "How is an acute asthma attack treated?",
    "What is the first-line treatment for gout?",
    "How is heart failure with reduced ejection fraction treated?",
    "How is atrial fibrillation treated?",
    "How is community-acquired pneumonia diagnosed?",
]


class ScriptedLlm(FakeLlm):
    """The scripted endpoint, holding each reply until `release` is set, or answering 500 while `down`."""

    release = threading.Event()
    down = False
    received = 0

    def do_POST(self) -> None:
        type(self).received += 1
        if type(self).down:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        type(self).release.wait(30)
        send_chat_reply(self, request, draft_from("\n".join(m["content"] for m in request["messages"])))


@pytest.fixture
def scripted_llm() -> Iterator[str]:
    ScriptedLlm.release.set()
    ScriptedLlm.down, ScriptedLlm.received = False, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedLlm)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    ScriptedLlm.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -- the gate on its own --------------------------------------------------------------------------------------------


def test_gate_admits_up_to_its_concurrency_queues_a_bounded_line_and_refuses_the_rest() -> None:
    gate = AskGate(concurrency=1, queue=1, wait_s=5.0)
    inside, leave = threading.Event(), threading.Event()
    order: list[str] = []

    def hold() -> None:
        with gate.admit():
            inside.set()
            leave.wait(5)
            order.append("first")

    def wait_in_line() -> None:
        with gate.admit():
            order.append("second")

    first, second = threading.Thread(target=hold), threading.Thread(target=wait_in_line)
    first.start()
    assert inside.wait(5)
    second.start()
    until(lambda: gate.load == (1, 1))
    with pytest.raises(Overloaded, match="busy") as refused, gate.admit():
        pass
    assert refused.value.retry_after >= 1 and isinstance(refused.value, BackendUnavailable)
    with pytest.raises(Overloaded):
        gate.check()
    leave.set()
    first.join(5)
    second.join(5)
    assert order == ["first", "second"] and gate.load == (0, 0) and gate.refused == 2
    gate.check()  # room again


def test_a_waiting_request_gives_up_after_the_wait_limit() -> None:
    gate = AskGate(concurrency=1, queue=4, wait_s=0.2)
    with gate.admit():
        with pytest.raises(Overloaded, match=r"no answer slot came free within 0\.2 s"), gate.admit():
            pass
        assert gate.load == (1, 0)  # the one that gave up left the line


# -- the app under overload -----------------------------------------------------------------------------------------


def test_overload_is_refused_at_once_with_retry_after_while_pages_and_known_questions_are_served(
    web_data: Path, scripted_llm: str
) -> None:
    app, articles = make_app(
        web_data, llm_base_url=scripted_llm, llm_model="scripted", ask_concurrency=1, ask_queue=2, ask_wait=60
    )
    gate: AskGate = app.state.service.gate
    with (
        LiveServer(app) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
        ThreadPoolExecutor(4) as pool,
    ):
        known = http.post("/api/ask", json={"question": COVERED[0]})
        assert known.status_code == 200, known.text
        ScriptedLlm.release.clear()  # from here the LLM holds every reply

        def ask(question: str) -> httpx.Response:
            return http.post("/api/ask", json={"question": question})

        first = pool.submit(ask, QUESTION)
        until(lambda: ScriptedLlm.received == 2)  # the first new question is waiting on the LLM
        queued = [pool.submit(ask, q) for q in COVERED[1:3]]
        until(lambda: gate.load == (1, 2))
        refused = [ask(q) for q in COVERED[3:6]]  # answered while the LLM still holds the first reply
        form = ask_form(http, {"question": COVERED[6]})
        stream = http.post("/api/ask/stream", json={"question": COVERED[7]})
        for r in [*refused, stream]:
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "overloaded" and "try again" in r.json()["detail"]
            assert int(r.headers["retry-after"]) >= 1
        assert form.status_code == 503 and int(form.headers["retry-after"]) >= 1 and "busy" in form.text
        assert not first.done() and not any(f.done() for f in queued)

        # Meanwhile the site works: pages, health, and a question that already has an article.
        slug = known.json()["slug"]
        assert http.get(f"/articles/{slug}").status_code == 200
        assert http.post("/api/ask", json={"question": COVERED[0]}).status_code == 200
        for path in ("/", "/search", "/sources", "/api/health", f"/api/articles/{slug}"):
            assert http.get(path).status_code == 200, path

        ScriptedLlm.release.set()
        done = [f.result(timeout=60) for f in (first, *queued)]
    assert [r.status_code for r in done] == [200, 200, 200]
    assert done[0].json()["meta"]["composer"] == "llm:scripted"
    made = {a.slug for a in articles.list(limit=100)}
    assert {r.json()["slug"] for r in done} <= made
    assert not {slug_for(q) for q in COVERED[3:8]} & made  # a refused question left nothing behind


def test_after_an_llm_outage_answers_come_at_once_and_the_llm_is_used_again_when_it_is_back(
    web_data: Path, scripted_llm: str
) -> None:
    app, _ = make_app(
        web_data, llm_base_url=scripted_llm, llm_model="scripted", llm_failures_to_pause=2, llm_retry_after=0.3
    )
    ScriptedLlm.down = True
    with TestClient(app) as client:

        def ask(question: str) -> dict[str, Any]:
            r = client.post("/api/ask", json={"question": question})
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        for question in COVERED[:2]:
            meta = ask(question)["meta"]
            assert meta["composer"] == "extractive" and "HTTP 500" in " ".join(meta["notices"])
        assert ScriptedLlm.received == 2
        paused = ask(COVERED[2])["meta"]  # the endpoint is paused: not called, answered extractively at once
        assert paused["composer"] == "extractive" and "paused" in " ".join(paused["notices"])
        assert ScriptedLlm.received == 2

        ScriptedLlm.down = False
        time.sleep(0.35)
        back = ask(COVERED[3])["meta"]
        assert back["composer"] == "llm:scripted" and not back["notices"]
        assert ScriptedLlm.received == 3
        assert app.state.service.bedside.llm_breaker.state == "closed"


def test_a_request_whose_client_hangs_up_while_in_line_is_never_composed(web_data: Path, scripted_llm: str) -> None:
    app, articles = make_app(
        web_data, llm_base_url=scripted_llm, llm_model="scripted", ask_concurrency=1, ask_queue=4, ask_wait=60
    )
    gate: AskGate = app.state.service.gate
    with (
        LiveServer(app) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
        ThreadPoolExecutor(1) as pool,
    ):
        ScriptedLlm.release.clear()
        first = pool.submit(http.post, "/api/ask", json={"question": QUESTION})
        until(lambda: ScriptedLlm.received == 1)  # the only slot is waiting on the LLM
        body = json.dumps({"question": COVERED[1]}).encode()
        head = "POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            until(lambda: gate.load == (1, 1))
        until(lambda: gate.load == (1, 0))  # it left the line once its client had gone
        ScriptedLlm.release.set()
        assert first.result(timeout=60).status_code == 200
    assert ScriptedLlm.received == 1 and len(articles.list(limit=100)) == 1  # nothing composed for the hang-up
