"""bedside: a self-hostable clinical answer engine with cited, traceable answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.facade import Bedside

__version__ = "0.1.0"

__all__ = ["Bedside", "BedsideError", "__version__"]


def __getattr__(name: str) -> Any:
    """Import `Bedside` on first use."""
    # `Bedside` brings NumPy, pydantic and the indexes, which `bedside --version` and `bedside --help` do not need.
    if name == "Bedside":
        from bedside.facade import Bedside

        globals()["Bedside"] = Bedside
        return Bedside
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
