"""Replies of the scripted OpenAI-compatible endpoints that tests start (the LLM cannot run here)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


def send_chat_reply(handler: BaseHTTPRequestHandler, request: dict[str, Any], content: str, chunk: int = 64) -> None:
    """Answer a chat-completions request with `content`: server-sent chunks when it asked to stream, else one body."""
    if request.get("stream"):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for i in range(0, len(content), chunk):
            delta = {"choices": [{"index": 0, "delta": {"content": content[i : i + chunk]}}]}
            handler.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")
        return
    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
