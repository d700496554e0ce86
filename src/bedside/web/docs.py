"""API docs at /docs, with Swagger UI's assets served by bedside (from the `swagger-ui-py` package), not a CDN.

Without that package /docs still answers: a plain page listing the operations from the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles


def swagger_assets() -> Path | None:
    """The folder holding swagger-ui-bundle.js and swagger-ui.css, when the package is installed."""
    try:
        import swagger_ui  # type: ignore[import-untyped]
    except ImportError:
        return None
    folder = Path(swagger_ui.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def mount(app: FastAPI) -> None:
    """Add /docs (and its assets under /docs/assets)."""
    assets = swagger_assets()
    if assets is not None:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        templates = request.app.state.templates
        if assets is not None:
            page: Response = templates.TemplateResponse(request, "docs.html", {"page": "docs"})
            return page
        operations = [
            (method.upper(), path, op.get("summary", ""))
            for path, item in request.app.openapi()["paths"].items()
            for method, op in item.items()
        ]
        html = templates.get_template("docs_plain.html").render(request=request, page="docs", operations=operations)
        return HTMLResponse(html)
