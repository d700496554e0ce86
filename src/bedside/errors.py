"""One error tree; the web and the CLI map these classes to status codes and exit codes."""

from __future__ import annotations


class BedsideError(Exception):
    """Base of every error bedside raises on purpose."""


class NotFound(BedsideError):
    """A document, passage, article or user does not exist."""


class InvalidInput(BedsideError):
    """A request, setting or argument is malformed."""


class IngestError(BedsideError):
    """A source could not be read; the message names the file and, where known, the line or element."""

    def __init__(self, path: str, message: str, *, line: int | None = None, element: str = ""):
        self.path = path
        self.line = line
        self.element = element
        self.reason = message
        where = path
        if line is not None:
            where += f":{line}"
        if element:
            where += f" <{element}>"
        super().__init__(f"{where}: {message}")


class TransitionError(BedsideError):
    """A review action that the current state or the actor's role does not allow."""


class PermissionDenied(TransitionError):
    """The actor's role (or relation to the article) never allows this action; the web answers 403."""


class Conflict(TransitionError):
    """The action is not possible from the article's current state, or someone changed it first; 409."""


class BackendUnavailable(BedsideError):
    """An optional component is missing or cannot be reached."""


class UpstreamError(BedsideError):
    """An external service (the LLM endpoint) failed or answered badly."""
