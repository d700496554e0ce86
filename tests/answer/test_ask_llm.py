"""`Bedside.ask(llm=True)` wired through settings, against a scripted OpenAI-compatible server."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bedside import Bedside

QUESTION = "How is hyperkalaemia treated?"


class _Echo(BaseHTTPRequestHandler):
    """Answers with the first sentence of passage 1, citing passage 1 (a faithful, checkable draft)."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        m = re.search(r"<<<PASSAGE 1>>>.*?Text:\n(.+?)\n<<<END PASSAGE 1>>>", user, re.S)
        sentences = re.split(r"(?<=\.)\s+", m.group(1)) if m else []
        first = next((s.strip() for s in sentences if len(s.split()) >= 8), "nothing")
        draft = {"title": "Hyperkalaemia", "bottom_line": [{"text": first, "passages": [1]}], "sections": []}
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(draft)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _open(starter, monkeypatch, url):
    monkeypatch.setenv("BEDSIDE_LLM_BASE_URL", url)
    monkeypatch.setenv("BEDSIDE_LLM_MODEL", "scripted-model")
    monkeypatch.setenv("BEDSIDE_LLM_TIMEOUT", "5")
    return Bedside(data_dir=starter.data_dir, starter_kb=True)


def test_llm_answer_is_verified_and_labelled(starter, monkeypatch, server):
    with _open(starter, monkeypatch, server) as b:
        answer = b.ask(QUESTION, llm=True)
    assert answer.composer == "llm:scripted-model"
    assert answer.notices == ()
    statements = answer.statements()
    assert statements and all(s.citations for s in statements)
    assert statements[0].provenance[0].document_id == answer.references[0].document_id


def test_unreachable_llm_falls_back_to_extractive_with_a_notice(starter, monkeypatch):
    with _open(starter, monkeypatch, "http://127.0.0.1:9/v1") as b:  # nothing listens on the discard port
        answer = b.ask(QUESTION, llm=True)
    assert answer.composer == "extractive"
    assert answer.notices and "LLM unavailable" in answer.notices[0]
    assert answer.statements()


class _Nested(BaseHTTPRequestHandler):
    """A hostile endpoint: its answer is 200,000 arrays deep."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        content = '{"title": "T", "bottom_line": ' + "[" * 200_000 + "]" * 200_000 + "}"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_a_deeply_nested_llm_answer_falls_back_to_extractive(starter, monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Nested)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with _open(starter, monkeypatch, f"http://127.0.0.1:{httpd.server_address[1]}/v1") as b:
            answer = b.ask(QUESTION, llm=True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert answer.composer == "extractive" and answer.statements()
    assert "nested too deeply" in answer.notices[0]
