"""`bedside mcp`: the MCP server on stdin/stdout (nothing else may be written to stdout)."""

from __future__ import annotations

import click

from bedside.cli.console import handle_errors

__all__ = ["mcp"]


@click.command()
@click.pass_context
@handle_errors
def mcp(ctx: click.Context) -> None:
    """Serve bedside to AI assistants over MCP (stdio): search_evidence, answer_question, get_document."""
    from bedside.cli.context import open_bedside
    from bedside.cli.editorial import _articles
    from bedside.mcp_server import EngineFaces, build_server

    b = open_bedside(ctx)
    b.ensure_starter_kb()
    build_server(EngineFaces(b, _articles(ctx))).run("stdio")
