"""The `bedside` command: the group, its global options and where each command lives.

A command's module is imported only when that command runs or shows its own help. `bedside --help` and
`bedside --version` import Click and nothing else of bedside's (no engine, NumPy, pydantic or SQLAlchemy), and
`bedside ask` does not pay for the editorial database or the deployment checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from gettext import gettext as _
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from bedside import __version__

__all__ = ["COMMANDS", "LazyGroup", "main"]

# name -> (module, attribute, the command's help up to its first blank line). `bedside --help` lists the commands
# from these summaries without importing their modules; tests/test_cli.py checks each against its command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "articles": ("bedside.cli.editorial", "articles", "Articles: export, sources that changed, re-composing."),
    "ask": (
        "bedside.cli.answers",
        "ask",
        "Answer a clinical question with cited statements from the knowledge base.",
    ),
    "audit": ("bedside.cli.ops", "audit", "The editorial audit log."),
    "backup": (
        "bedside.cli.ops",
        "backup",
        "Copy the data directory's databases into DEST (new or empty), consistently, while bedside keeps running.",
    ),
    "chat": (
        "bedside.cli.answers",
        "chat",
        "Ask questions and follow-ups interactively (an empty line or Ctrl-D ends).",
    ),
    "check": (
        "bedside.cli.ops",
        "check",
        "Check the data directory's consistency, or (--deploy) that this installation is safe to expose.",
    ),
    "collections": (
        "bedside.cli.knowledge_base",
        "collections",
        "Named collections (e.g. local protocols): their priority over the literature and label in references.",
    ),
    "ingest": (
        "bedside.cli.knowledge_base",
        "ingest",
        "Read files, folders or globs (Markdown, MEDLINE/JATS XML, PDF, HTML, JSON Lines) into the knowledge base.",
    ),
    "kb": ("bedside.cli.knowledge_base", "kb", "The starter knowledge base shipped with bedside."),
    "mcp": (
        "bedside.cli.mcp",
        "mcp",
        "Serve bedside to AI assistants over MCP (stdio): search_evidence, answer_question, get_document.",
    ),
    "pmc": (
        "bedside.cli.pubmed",
        "pmc",
        "Open-access full text from PubMed Central for PubMed records in the knowledge base.",
    ),
    "pubmed": ("bedside.cli.pubmed", "pubmed", "Search PubMed and ingest what it finds (NCBI E-utilities)."),
    "remove": ("bedside.cli.knowledge_base", "remove", "Remove documents (and their passages) by id."),
    "restore": (
        "bedside.cli.ops",
        "restore",
        "Restore a backup made by `bedside backup` into the (empty) data directory, then check it.",
    ),
    "review": (
        "bedside.cli.editorial",
        "review",
        "Review articles as a local user (direct database access: `--as` needs no password).",
    ),
    "search": (
        "bedside.cli.knowledge_base",
        "search",
        "Search the knowledge base's passages (hybrid lexical + dense ranking).",
    ),
    "serve": ("bedside.cli.serve", "serve", "Serve the web pages and the JSON API (OpenAPI docs at /docs)."),
    "stats": (
        "bedside.cli.knowledge_base",
        "stats",
        "Counts of documents and passages, by evidence type and by source.",
    ),
    "users": ("bedside.cli.editorial", "users", "Reviewer, editor and admin accounts."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; listing them in its help imports none of them."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, attribute, _summary = self.lazy_commands[cmd_name]
            command = getattr(import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's own listing, with a stand-in carrying the summary for each command not imported yet."""
        listed = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or click.Command(name, help=self.lazy_commands[name][2])
            if not command.hidden:
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _command in listed)
        with formatter.section(_("Commands")):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bedside")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Data directory (BEDSIDE_DATA_DIR).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """bedside: cited clinical answers from a knowledge base you control."""
    ctx.ensure_object(dict)["data_dir"] = data_dir
