"""Security basics: headers on every response, and knowledge-base text shown as text, never as markup."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bedside import Bedside
from bedside.config import load_settings

EVIL = {
    "id": "evil1",
    "title": "<img src=x onerror=alert(1)> Acute gout **flare** guide",
    "text": (
        "Colchicine 500 micrograms twice daily treats an acute gout flare <script>window.pwned=1</script> in adults. "
        "Give naproxen 500 mg twice daily for an acute gout flare, see [details](javascript:alert(1)) and "
        "<img src=x onerror=window.pwned=2>. Do not give colchicine with clarithromycin **ever** in acute gout flare."
    ),
    "url": "javascript:alert(1)",
    "type": "guideline",
    "year": 2024,
    "source": "<b>Evil</b> Society",
}
GOUT = "How is an acute gout flare treated?"


@pytest.fixture(scope="module")
def evil_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base holding one hostile document and nothing else."""
    root = tmp_path_factory.mktemp("evil")
    (root / "evil.jsonl").write_text(json.dumps(EVIL) + "\n", encoding="utf-8")
    with Bedside(settings=load_settings(data_dir=root / "data", starter_kb=False, embedder="hashing")) as b:
        assert b.ingest([root / "evil.jsonl"]).added == 1
    return root / "data"


@pytest.fixture(scope="module")
def evil_client(evil_data: Path, app_factory: Any) -> Iterator[TestClient]:
    app, _ = app_factory(evil_data, starter_kb=False)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def test_security_headers_on_pages_api_static_and_errors(client: TestClient) -> None:
    for path in ("/", "/api/health", "/static/css/bedside.css", "/no-such-page", "/api/articles/none"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_no_inline_script_or_style_and_no_third_party_assets(client: TestClient, asked: dict[str, Any]) -> None:
    for path in ("/", f"/articles/{asked['slug']}", "/policy", "/sources", "/search", "/docs"):
        html = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"<script\b[^>]*>[^<]+</script>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html.split("<main")[0]), path  # head: all local


def test_hostile_passage_text_is_escaped_everywhere(evil_client: TestClient) -> None:
    r = evil_client.post("/ask", data={"question": GOUT})
    assert r.status_code == 303
    page = evil_client.get(r.headers["location"])
    html = page.text
    assert "<script>window.pwned" not in html and "<img src=x" not in html and "<b>Evil</b>" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html  # shown as text, in the statement and its source
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the reference title
    assert "**ever**" in html and "[details](javascript:alert(1))" in html  # Markdown is not interpreted
    assert 'href="javascript:' not in html.lower()  # a non-web URL never becomes a link
    quotes = [c.quote for s in page.context["article"].bottom_line for c in s.citations]  # type: ignore[attr-defined]
    assert any("<img src=x onerror=window.pwned=2>" in q for q in quotes)  # the context holds the raw text


def test_hostile_text_in_json_stays_data(evil_client: TestClient) -> None:
    body = evil_client.post("/api/ask", json={"question": GOUT}).json()
    assert body["references"][0]["title"].startswith("<img src=x")
    assert evil_client.post("/api/ask", json={"question": GOUT}).headers["content-type"] == "application/json"
