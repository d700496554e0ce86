"""What every `bedside` command shares: the two consoles and the error handling (one line, then the exit status)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment

from bedside.errors import BedsideError, InvalidInput

__all__ = ["SafeConsole", "err", "handle_errors", "out", "safe", "safe_json", "safe_markup"]

F = TypeVar("F", bound=Callable[..., Any])
# C0 controls but tab and line feed, DEL, C1 controls, and the bidi overrides and isolates that reorder what a
# terminal shows: never sent raw, whoever wrote them (a source's title, a reviewer's comment, an e-mail address).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_JSON = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes C0 itself


def safe(value: object) -> str:
    """Text for a terminal: control characters shown as \\xNN or \\uNNNN instead of obeyed."""
    text = str(value)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def safe_markup(value: object) -> str:
    """safe(), with rich markup escaped too (for text placed inside a markup string)."""
    return escape(safe(value))


def safe_json(text: str) -> str:
    """JSON text (from json.dumps, which leaves DEL, C1 and bidi controls raw when ensure_ascii=False) made safe."""
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class SafeConsole(Console):
    """A console that escapes control characters in everything it prints (tables and answers included); the
    escape sequences of its own styles are added after, so colours still work."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control else Segment(safe(segment.text), segment.style) for segment in buffer
        )


err = SafeConsole(stderr=True)
out = SafeConsole()


def handle_errors(func: F) -> F:
    """Print a BedsideError as one line and exit non-zero instead of a traceback: 2 for bad input, else 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            sys.exit(2)
        except BedsideError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
