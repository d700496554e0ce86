"""Streaming answers over server-sent events, with a scripted OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def llm_client(web_data: Path, llm_url: str, app_factory: Any) -> Iterator[TestClient]:
    app, _ = app_factory(web_data, llm_base_url=llm_url, llm_model="fake", llm_timeout=10)
    with TestClient(app) as c:
        yield c


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.replace("\r", "").split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(":")]
        if lines:
            name = next(ln[6:].strip() for ln in lines if ln.startswith("event:"))
            data = "\n".join(ln[5:].strip() for ln in lines if ln.startswith("data:"))
            out.append((name, json.loads(data)))
    return out


def test_statements_stream_then_the_verified_answer(llm_client: TestClient) -> None:
    home = llm_client.get("/")
    assert 'data-stream="/api/ask/stream"' in home.text
    with llm_client.stream(
        "POST", "/api/ask/stream", json={"question": "How is iron deficiency anaemia treated?"}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        got = events(r.read().decode())
    names = [name for name, _ in got]
    assert names[-1] == "done" and names.count("statement") == 2 and names.index("statement") < names.index("done")
    done = got[-1][1]
    assert done["url"] == f"/articles/{done['slug']}" and done["meta"]["composer"] != "extractive"
    streamed = [data["text"] for name, data in got if name == "statement"]
    assert streamed[0] == done["bottom_line"][0]["text"]
    page = llm_client.get(done["url"])
    assert page.status_code == 200 and done["title"] in page.text


def test_a_known_question_streams_no_draft(llm_client: TestClient) -> None:
    body = {"question": "How is iron deficiency anaemia treated?"}
    with llm_client.stream("POST", "/api/ask/stream", json=body) as r:
        got = events(r.read().decode())
    assert [name for name, _ in got] == ["done"]


def test_failing_llm_falls_back_to_the_extractive_answer(llm_client: TestClient, fake_llm: Any) -> None:
    fake_llm.fail = True
    try:
        with llm_client.stream("POST", "/api/ask/stream", json={"question": "How is gout treated?"}) as r:
            got = events(r.read().decode())
    finally:
        fake_llm.fail = False
    name, done = got[-1]
    assert name == "done" and done["meta"]["composer"] == "extractive"
    assert any("LLM unavailable" in n for n in done["meta"]["notices"])


def test_stream_without_llm_sends_only_the_answer(client: TestClient) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": "How is hyperkalaemia treated?"}) as r:
        got = events(r.read().decode())
    assert [name for name, _ in got] == ["done"] and got[0][1]["bottom_line"]
