"""`bedside serve`: the web pages and the JSON API, in this process."""

from __future__ import annotations

import click

from bedside.cli.console import handle_errors, out
from bedside.cli.context import load_starter, open_bedside

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web pages and the JSON API (OpenAPI docs at /docs)."""
    import uvicorn

    from bedside.web import create_app
    from bedside.web.server import server_config

    b = open_bedside(ctx)
    load_starter(b)
    out.print(f"bedside on http://{host}:{port}  (API docs: /docs)", highlight=False)
    uvicorn.Server(server_config(create_app(b.settings, bedside=b), b.settings, host, port)).run()
