"""The one place that maps errors to HTTP: JSON under /api, an HTML page elsewhere. Never a bare 500 for input."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bedside.errors import (
    BackendUnavailable,
    BedsideError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransitionError,
    UpstreamError,
)
from bedside.web.admission import Overloaded
from bedside.web.identity import SignInNeeded

log = logging.getLogger("bedside.web")

# Most specific first; a BedsideError not listed is a server fault.
STATUS: tuple[tuple[type[BedsideError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (InvalidInput, 422, "invalid_input"),
    (PermissionDenied, 403, "forbidden"),
    (TransitionError, 409, "conflict"),
    (Overloaded, 503, "overloaded"),
    (BackendUnavailable, 503, "unavailable"),
    (UpstreamError, 503, "unavailable"),
)
_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    422: "invalid_input",
    429: "too_many_requests",
}
_TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Please check your question",
    408: "Request timed out",
    413: "Too large",
    429: "Too many attempts",
    503: "Temporarily unavailable",
}


def status_of(exc: BedsideError) -> tuple[int, str]:
    """The HTTP status code and error kind for a bedside error."""
    for cls, code, kind in STATUS:
        if isinstance(exc, cls):
            return code, kind
    return 500, "internal"


def wants_json(request: Request) -> bool:
    """API paths answer JSON; pages answer HTML."""
    path = request.url.path
    return path.startswith(("/api/", "/cds-services")) or path == "/api" or path == "/openapi.json"


def error_response(request: Request, code: int, kind: str, detail: str) -> Response:
    """The error as JSON ({"error", "detail"}) or as the site's error page."""
    if wants_json(request):
        return JSONResponse({"error": kind, "detail": detail}, status_code=code)
    context = {"status": code, "title": _TITLES.get(code, "Something went wrong"), "detail": detail, "page": "error"}
    response: Response = request.app.state.templates.TemplateResponse(request, "error.html", context, status_code=code)
    return response


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "string_too_long":
            given = err.get("input")
            size = f" ({len(given)} characters given)" if isinstance(given, str) else ""
            msg = f"{msg}{size}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    async def bedside_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BedsideError)
        code, kind = status_of(exc)
        if code == 500:
            log.error("unexpected %s: %s", type(exc).__name__, exc)
            return error_response(request, code, kind, "internal error")
        response = error_response(request, code, kind, str(exc))  # 503 messages say which backend, never a secret
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 422, "invalid_input", _validation_detail(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        response = error_response(request, exc.status_code, _KINDS.get(exc.status_code, "error"), detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        if wants_json(request):
            return error_response(request, 401, "unauthorized", "sign in first")
        return RedirectResponse(f"/login?{urlencode({'next': exc.next_path})}", status_code=303)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(request, 500, "internal", "internal error")

    handlers: dict[Any, Any] = {
        BedsideError: bedside_error,
        RequestValidationError: validation_error,
        StarletteHTTPException: http_error,
        SignInNeeded: sign_in_needed,
        Exception: unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
