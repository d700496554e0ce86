"""Web fixtures: an app over a copy of the starter knowledge base, a TestClient, a real uvicorn server, a browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from editorial_support import Editorial, make_editorial
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.text.sentences import split
from bedside.web import create_app

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUESTION = "What is the first-line treatment for community-acquired pneumonia?"


_OPENED: list[SqlArticleService] = []


def make_app(data_dir: Path, **settings: Any) -> tuple[FastAPI, SqlArticleService]:
    """An app over `data_dir` (hashing embedder) with the article service the test can reach: the real SQL service
    on an article database of its own (a new SQLite file beside `data_dir`), so apps over one data directory never
    see each other's articles. Closed at the end of the session."""
    config = load_settings(data_dir=data_dir, embedder="hashing", **settings)
    url = config.database_url or f"sqlite:///{Path(tempfile.mkdtemp(dir=data_dir.parent, prefix='articles-'))}/a.db"
    articles = SqlArticleService(url, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    _OPENED.append(articles)
    return create_app(config, articles=articles), articles


@pytest.fixture(scope="session", autouse=True)
def _close_article_services() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


@pytest.fixture(scope="session")
def question() -> str:
    return QUESTION


@pytest.fixture(scope="session")
def app_factory() -> Any:
    """`make_app(data_dir, **settings)` for tests that need their own app."""
    return make_app


@pytest.fixture(scope="module")
def web_data(starter_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the starter data directory for this module's app."""
    path = tmp_path_factory.mktemp("web") / "data"
    shutil.copytree(starter_data, path)
    return path


@pytest.fixture(scope="module")
def app_and_articles(web_data: Path) -> Iterator[tuple[FastAPI, SqlArticleService]]:
    app, articles = make_app(web_data)
    yield app, articles


@pytest.fixture(scope="module")
def client(app_and_articles: tuple[FastAPI, SqlArticleService]) -> Iterator[TestClient]:
    with TestClient(app_and_articles[0], follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def articles(app_and_articles: tuple[FastAPI, SqlArticleService]) -> SqlArticleService:
    return app_and_articles[1]


@pytest.fixture
def own_app(web_data: Path) -> Iterator[tuple[TestClient, SqlArticleService]]:
    """A client and article service of this test's own (the module's knowledge base, an article database of its
    own): for a test that approves or rejects an article, which a real store, like a real board, cannot undo."""
    app, articles = make_app(web_data)
    with TestClient(app, follow_redirects=False) as c:
        yield c, articles


@pytest.fixture(scope="module")
def asked(client: TestClient) -> dict[str, Any]:
    """The answer JSON for QUESTION (composed once for the module)."""
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# -- a scripted LLM endpoint ----------------------------------------------------------------------------------------

PASSAGE = re.compile(r"<<<PASSAGE (\d+)>>>.*?\nText:\n(.*?)\n<<<END PASSAGE \1>>>", re.S)


def draft_from(prompt: str) -> str:
    """A draft that quotes the first sentences of the first two passages: verifiable by construction."""
    passages = {int(n): text for n, text in PASSAGE.findall(prompt)}
    first, second = (split(passages[n])[0] for n in sorted(passages)[:2])
    return json.dumps(
        {
            "title": "Streamed answer",
            "bottom_line": [{"text": first, "passages": [sorted(passages)[0]]}],
            "sections": [{"heading": "Treatment", "statements": [{"text": second, "passages": [sorted(passages)[1]]}]}],
        }
    )


class FakeLlm(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: streams the draft as OpenAI-style chunks; `fail` answers 500 instead."""

    fail = False
    delay = 0.0  # seconds between streamed chunks

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if type(self).fail:
            self.send_response(500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        content = draft_from("\n".join(m["content"] for m in request["messages"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(content), 40):
            delta = {"choices": [{"index": 0, "delta": {"content": content[i : i + 40]}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()
            time.sleep(type(self).delay)
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture(scope="session")
def fake_llm() -> type[FakeLlm]:
    """The scripted endpoint's handler class: set `fail` or `delay` on it."""
    return FakeLlm


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """A scripted OpenAI-compatible endpoint on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLlm)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


# -- a real server and a browser ------------------------------------------------------------------------------------


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def browser_available() -> bool:
    """True when Playwright and Debian's Chromium are both installed; in CI their absence is a failure."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    else:
        if CHROMIUM.exists():
            return True
        missing = str(CHROMIUM)
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need {missing} (apt-get install chromium; pip install playwright)")
    pytest.skip(f"browser tests need {missing}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium with Playwright (skipped without it, unless CI=true)")


@pytest.fixture(scope="session")
def live_server() -> type[LiveServer]:
    """The LiveServer class, for tests that serve an app of their own."""
    browser_available()
    return LiveServer


@pytest.fixture(scope="module")
def live(web_data: Path) -> Iterator[tuple[LiveServer, SqlArticleService]]:
    browser_available()
    app, articles = make_app(web_data)
    with LiveServer(app) as server:
        yield server, articles


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A desktop-sized page; a screenshot goes to test-artifacts/failures/ when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.js_errors = errors
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        (ARTIFACTS / "failures").mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "failures" / f"{request.node.name}.png"), full_page=True)
    context.close()


# -- the editorial workflow (helpers in editorial_support.py) -------------------------------------------------------


@pytest.fixture(scope="session")
def editorial_factory(starter_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`factory(**settings)`: a fresh editorial app over a private copy of the starter data."""
    made: list[Editorial] = []

    def factory(**settings: Any) -> Editorial:
        path = tmp_path_factory.mktemp("editorial") / "data"
        shutil.copytree(starter_data, path)
        made.append(make_editorial(path, **settings))
        return made[-1]

    yield factory
    for e in made:
        e.articles.close()


@pytest.fixture(scope="module")
def editorial(editorial_factory: Any) -> Editorial:
    return editorial_factory()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(editorial: Editorial) -> Iterator[TestClient]:
    """A client for the module's editorial app (its lifespan spans the module)."""
    with TestClient(editorial.app, follow_redirects=False) as c:
        yield c
