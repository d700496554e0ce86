"""Server-sent events for an answer being composed: draft statements as they arrive, then the verified answer.

Events: `statement` {"text"} for each drafted statement (unverified), then exactly one of `done` (the answer JSON
with its article `url`) or `error` {"error", "detail", "status"}. Comment lines keep the connection alive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from bedside.errors import BedsideError
from bedside.web.http_errors import status_of
from bedside.web.site import WebService

log = logging.getLogger("bedside.web")
KEEP_ALIVE_S = 15.0


def sse(event: str, data: dict[str, Any]) -> str:
    """One event in the text/event-stream format."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(
    service: WebService,
    question: str,
    audience: str | None,
    conversation: str | None,
    follows: str | None = None,
    owner: str = "",
) -> AsyncIterator[str]:
    """Run `service.ask` in a thread and yield its progress as server-sent events."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def put(event: str, data: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    def work() -> None:
        try:
            asked = service.ask(
                question,
                audience,
                conversation,
                on_statement=lambda t: put("statement", {"text": t}),
                follows=follows,
                owner=owner,
            )
            put("done", {**asked.answer.to_dict(), "url": asked.path})
        except BedsideError as exc:
            code, kind = status_of(exc)
            detail = str(exc) if code != 500 else "internal error"
            put(
                "error",
                {"error": kind, "detail": detail, "status": code, "retry_after": getattr(exc, "retry_after", 0)},
            )
        except Exception:
            log.exception("answer stream failed")
            put("error", {"error": "internal", "detail": "internal error", "status": 500})

    threading.Thread(target=work, name="bedside-answer", daemon=True).start()
    yield ": composing\n\n"
    while True:
        try:
            event, data = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        yield sse(event, data)
        if event in ("done", "error"):
            return
