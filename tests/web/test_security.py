"""Security basics: headers on every response, and knowledge-base text shown as text, never as markup."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from editorial_support import Editorial, ask_api, ask_form, person
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

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


def directives(csp: str) -> dict[str, str]:
    """A Content-Security-Policy as {directive: sources}."""
    return {name: rest.strip() for name, _, rest in (d.strip().partition(" ") for d in csp.split(";") if d.strip())}


def assert_security_headers(r: Any, where: str, tls: bool = False) -> None:
    """The strict policy: scripts and images only from this site, no framing, no sniffing; HSTS only over TLS."""
    policy = directives(r.headers["content-security-policy"])
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'", (where, policy)
    assert policy["img-src"] == "'self'" and policy["style-src"] == "'self'", (where, policy)  # /docs included
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", (where, policy)
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'", (where, policy)
    assert "unsafe-eval" not in r.headers["content-security-policy"], where
    assert r.headers["x-content-type-options"] == "nosniff", where
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", where
    assert r.headers["x-frame-options"] == "DENY", where
    assert ("strict-transport-security" in r.headers) is tls, (where, r.headers)


def leaf_routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """The app's routes, with included routers opened (FastAPI keeps each included router as one entry holding
    the router; bedside includes its routers without a prefix, so the paths are the routes' own)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from leaf_routes(included.routes)
        else:
            yield route


def route_requests(app: FastAPI, slug: str) -> Iterator[tuple[str, str]]:
    """(method, path) for every route of the app, so that a new route is covered without editing this test;
    a mounted folder is asked for one of its files."""
    for route in leaf_routes(app.routes):
        if isinstance(route, Mount):
            folder = Path(route.app.directory)  # type: ignore[attr-defined]
            yield "GET", f"{route.path}/{next(p for p in sorted(folder.rglob('*')) if p.is_file()).relative_to(folder)}"
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, re.sub(r"{[^}]+}", slug, route.path)


def test_security_headers_on_every_route_404_and_405(editorial: Editorial, api: TestClient) -> None:
    slug = ask_api(api, "How is atrial fibrillation diagnosed?")
    requests = [*route_requests(editorial.app, slug), ("GET", "/no-such-page"), ("GET", "/api/no-such-thing")]
    paths = {path for _, path in requests}
    api_paths = {re.sub(r"{[^}]+}", slug, p) for p in client_openapi_paths(api)}
    assert api_paths <= paths and {"/", "/openapi.json", "/docs", "/review", "/login", "/admin/users"} <= paths
    statuses = set()
    for who, client in (("anonymous", api), ("admin", person(editorial, "admin"))):
        for method, path in [*requests, ("DELETE", "/api/health")]:
            r = client.request(method, path, data={} if method == "POST" else None)
            assert_security_headers(r, f"{who} {method} {path}")
            statuses.add(r.status_code)
    assert {200, 303, 403, 404, 405, 422} <= statuses  # pages, redirects, refusals and errors all carry them


def client_openapi_paths(client: TestClient) -> set[str]:
    paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    return set(paths)


def test_security_headers_on_the_500_page_and_json(editorial: Editorial, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("disk on fire at /srv/secret/path")

    monkeypatch.setattr(editorial.app.state.service, "sources", broken)
    with TestClient(editorial.app, raise_server_exceptions=False) as client:
        for path in ("/sources", "/api/sources"):
            r = client.get(path)
            assert r.status_code == 500, (path, r.text)
            assert_security_headers(r, path)
            assert "disk on fire" not in r.text and "Traceback" not in r.text and "/srv/secret" not in r.text
        assert client.get("/api/sources").json() == {"error": "internal", "detail": "internal error"}
        https = TestClient(editorial.app, base_url="https://testserver", raise_server_exceptions=False)
        assert_security_headers(https.get("/api/sources"), "https /api/sources", tls=True)


def test_hsts_over_tls_and_behind_a_trusted_proxy_never_over_plain_http(client: TestClient) -> None:
    app = client.app
    for path in ("/", "/api/health", "/no-such-page"):
        assert_security_headers(client.get(path), f"http {path}")
        assert_security_headers(TestClient(app, base_url="https://testserver").get(path), f"https {path}", tls=True)
    assert client.get("/").headers.get("strict-transport-security") is None
    hsts = TestClient(app, base_url="https://testserver").get("/").headers["strict-transport-security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 180 * 24 * 3600  # type: ignore[union-attr]
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")  # what `uvicorn --proxy-headers` does
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    behind_proxy = TestClient(proxied, client=("127.0.0.1", 5000))
    assert_security_headers(behind_proxy.get("/", headers=forwarded), "proxied https", tls=True)
    assert_security_headers(behind_proxy.get("/"), "proxied http")
    spoofed = TestClient(proxied, client=("203.0.113.9", 5000))  # not the proxy: its header is not believed
    assert_security_headers(spoofed.get("/", headers=forwarded), "spoofed https")


def test_no_inline_script_or_style_and_no_third_party_assets(client: TestClient, asked: dict[str, Any]) -> None:
    for path in ("/", f"/articles/{asked['slug']}", "/policy", "/sources", "/search", "/docs"):
        html = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"<script\b[^>]*>[^<]+</script>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html.split("<main")[0]), path  # head: all local


def test_hostile_passage_text_is_escaped_everywhere(evil_client: TestClient) -> None:
    r = ask_form(evil_client, {"question": GOUT})
    assert r.status_code == 303
    page = evil_client.get(r.headers["location"])
    html = page.text
    assert "<script>window.pwned" not in html and "<img src=x" not in html and "<b>Evil</b>" not in html
    assert "window.pwned" not in html  # markup in a source is never quoted: statements are cut around tags
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the reference title
    assert "**ever**" in html and "[details](javascript:alert(1))" in html  # Markdown is not interpreted
    assert 'href="javascript:' not in html.lower()  # a non-web URL never becomes a link
    quotes = [c.quote for s in page.context["article"].bottom_line for c in s.citations]  # type: ignore[attr-defined]
    assert quotes and all("<" not in q and "javascript:alert(1)" in q for q in quotes)  # the source's own words


def test_hostile_text_in_json_stays_data(evil_client: TestClient) -> None:
    body = evil_client.post("/api/ask", json={"question": GOUT}).json()
    assert body["references"][0]["title"].startswith("<img src=x")
    assert evil_client.post("/api/ask", json={"question": GOUT}).headers["content-type"] == "application/json"
