"""The `Bedside` a command works on, opened once per invocation, and the progress bars it shows.

Every command that reads or changes the knowledge base opens it here, from the settings (BEDSIDE_DATA_DIR, the
--data-dir option), and closes it when the command ends. Long index syncs and the starter knowledge base's first
load show progress on stderr, never on stdout (which may carry JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bedside.cli.console import err

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from bedside.facade import Bedside
    from bedside.knowledge import IngestReport

__all__ = ["BarProgress", "SyncBar", "load_starter", "open_bedside"]


class BarProgress:
    """A rich progress bar over the bytes of the files being ingested."""

    def __init__(self, label: str = "Ingesting") -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._label = label
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[docs]} documents"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
            disable=not err.is_terminal,
        )
        self._task: TaskID | None = None

    def start(self, total_bytes: int, files: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task(f"{self._label} {files} file(s)", total=total_bytes or None, docs=0)

    def advance(self, done_bytes: int, report: IngestReport) -> None:
        if self._task is not None:
            docs = report.added + report.updated + report.unchanged
            self._bar.update(self._task, completed=done_bytes, docs=docs)

    def finish(self, report: IngestReport) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[0].total or 0)
        self._bar.stop()


def open_bedside(ctx: click.Context) -> Bedside:
    obj = ctx.ensure_object(dict)
    if "bedside" not in obj:
        from bedside.config import load_settings
        from bedside.facade import Bedside

        settings = load_settings(data_dir=obj.get("data_dir"))
        obj["bedside"] = Bedside(settings=settings)
        obj["bedside"].set_sync_progress(SyncBar())
        ctx.call_on_close(obj["bedside"].close)
        for notice in obj["bedside"].notices:
            err.print(f"[yellow]notice:[/yellow] {notice}", highlight=False)
    bedside: Bedside = obj["bedside"]
    return bedside


class SyncBar:
    """A progress bar for index building (embedding passages), shown only for long syncs."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]Indexing"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} documents"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err,
                disable=not err.is_terminal,
            )
            self._bar.start()
            self._task = self._bar.add_task("index", total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self._bar.stop()
            self._bar = None


def load_starter(b: Bedside) -> None:
    if b.settings.starter_kb and not b.starter_status()["current"]:
        report = b.ensure_starter_kb(progress=BarProgress("Loading starter knowledge base:"))
        if report is not None and not report.ok:
            for where, message in report.failed:
                err.print(f"[yellow]starter knowledge base:[/yellow] {where}: {message}", highlight=False)
