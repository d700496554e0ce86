"""Typed dependencies shared by the API and the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bedside.web.service import WebService

AUDIENCE_COOKIE = "bedside_audience"


def get_service(request: Request) -> WebService:
    """The app's one service."""
    service: WebService = request.app.state.service
    return service


Service = Annotated[WebService, Depends(get_service)]
