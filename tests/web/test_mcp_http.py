"""MCP over Streamable HTTP in the web app: the SDK's client against a real server, behind the API tokens."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

import httpx2
from editorial_support import make_editorial
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bedside import Bedside


class Served:
    """uvicorn serving the app on 127.0.0.1 in a thread (its lifespan runs the MCP session manager)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def call(url: str, token: str | None, steps: Any) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{url}/mcp/", http_client=http)) as client,
        ):
            return await steps(client)

    return anyio.run(main)


def test_tools_over_http_need_a_token_are_rate_limited_and_logged(
    tmp_path: Path, fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copy(fixtures / "medline" / "retractions.xml", tmp_path / "retractions.xml")
    with Bedside(data_dir=data, starter_kb=False) as b:
        assert b.ingest([tmp_path / "retractions.xml"]).ok
    editorial = make_editorial(data, starter_kb=False, mcp_http=True, mcp_rate_per_minute=4)
    caplog.set_level(logging.INFO, logger="bedside.mcp")

    async def steps(client: Any) -> Any:
        hits = await client.call_tool("search_evidence", {"query": "corticosteroid step-down"})
        answer = await client.call_tool("answer_question", {"question": "Is corticosteroid step-down safe?"})
        return hits, answer

    with Served(editorial.app) as served:
        hits, answer = call(served.url, editorial.tokens["reviewer"], steps)
        assert hits.structured_content["hits"][0]["document_id"] == "91000003"
        data_out = answer.structured_content
        assert data_out["status"] == "submitted" and editorial.articles.get(data_out["slug"])
        with httpx2.Client() as plain:
            refused = plain.post(f"{served.url}/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            bad = plain.post(f"{served.url}/mcp/", json={}, headers={"Authorization": "Bearer not-a-token"})
            assert bad.status_code == 401
            limited = [
                plain.post(
                    f"{served.url}/mcp/",
                    json={"jsonrpc": "2.0", "id": i, "method": "ping"},
                    headers={
                        "Authorization": f"Bearer {editorial.tokens['editor']}",
                        "Accept": "application/json, text/event-stream",
                    },
                ).status_code
                for i in range(6)
            ]
            assert limited[-1] == 429 and 429 not in limited[:4]
    logged = [r.getMessage() for r in caplog.records if r.name == "bedside.mcp"]
    assert any("tools/call search_evidence by rita@example.org" in m for m in logged), logged
    assert any("tools/call answer_question by rita@example.org" in m for m in logged), logged
