"""The web app: server-rendered pages, the JSON API, static assets (no CDN) and streaming answers."""

from bedside.web.app import create_app

__all__ = ["create_app"]
