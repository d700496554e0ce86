"""What every `bedside` command shares: the two consoles and the error handling (one line, then the exit status)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from rich.console import Console

from bedside.errors import BedsideError, InvalidInput

__all__ = ["err", "handle_errors", "out"]

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)
out = Console()


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
