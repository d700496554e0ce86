"""Operating commands: `bedside check [--deploy]`, `bedside backup`, `bedside restore` and `bedside audit verify`.

Listed on the `bedside` group by cli/__init__.py and imported when one of them runs; `review verify-audit` (an alias of
`audit verify`) is added by cli/editorial.py. Problems print one a line and exit 1; bad input exits 2, as everywhere
in the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bedside.cli.console import err, handle_errors, out

if TYPE_CHECKING:
    from bedside.config import Settings
    from bedside.ops.deploy_checks import Finding

__all__ = ["audit", "audit_rekey", "audit_verify", "backup", "check", "restore"]


def _settings(ctx: click.Context) -> Settings:
    from bedside.config import load_settings

    obj = ctx.find_root().ensure_object(dict)
    return load_settings(data_dir=obj.get("data_dir"))


def _report(findings: list[Finding]) -> None:
    """Print every finding; exit 1 when any is a problem."""
    for f in findings:
        mark = "[green]OK[/green]     " if f.ok else "[red]PROBLEM[/red]"
        out.print(f"{mark} {f.name}: {f.detail}", highlight=False, soft_wrap=True)
    failed = [f for f in findings if not f.ok]
    if failed:
        err.print(f"{len(failed)} problem(s): {', '.join(f.name for f in failed)}", highlight=False)
        sys.exit(1)


@click.command()
@click.option("--deploy", is_flag=True, help="Check that the settings are safe for production instead.")
@click.pass_context
@handle_errors
def check(ctx: click.Context, deploy: bool) -> None:
    """Check the data directory's consistency, or (--deploy) that this installation is safe to expose."""
    settings = _settings(ctx)
    if deploy:
        from bedside.ops.deploy_checks import check_deployment

        _report(check_deployment(settings))
    else:
        from bedside.ops.integrity import check_data

        _report(check_data(settings))


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
@handle_errors
def backup(ctx: click.Context, dest: Path) -> None:
    """Copy the data directory's databases into DEST (new or empty), consistently, while bedside keeps running."""
    from bedside.ops.backup import backup as take_backup

    report = take_backup(_settings(ctx), dest)
    out.print(f"backed up {', '.join(report.copied)} to {dest}", highlight=False, soft_wrap=True)
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)


@click.command()
@click.argument("src", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.pass_context
@handle_errors
def restore(ctx: click.Context, src: Path) -> None:
    """Restore a backup made by `bedside backup` into the (empty) data directory, then check it."""
    from bedside.ops.backup import restore as restore_backup
    from bedside.ops.integrity import check_data

    settings = _settings(ctx)
    report = restore_backup(src, settings)
    out.print(f"restored {', '.join(report.copied)} into {settings.data_dir}", highlight=False, soft_wrap=True)
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    _report(check_data(settings))


@click.group()
def audit() -> None:
    """The editorial audit log."""


@audit.command("verify")
@click.option("--trusted-head", metavar="HASH", help="A head printed earlier: fail unless the log still holds it.")
@click.pass_context
@handle_errors
def audit_verify(ctx: click.Context, trusted_head: str | None) -> None:
    """Recompute the audit log's hash chain; exits 1 naming the first record that was altered or removed."""
    from bedside.editorial.desk import open_article_service

    with open_article_service(_settings(ctx)) as service:
        result = service.verify_audit(trusted_head)
    for problem in result.problems:
        err.print(f"[red]audit:[/red] {problem}", highlight=False, soft_wrap=True)
    out.print(f"{result.records} audit records, chain {'intact' if result.ok else 'BROKEN'}; head {result.head}")
    if not result.ok:
        first = f"record {result.first_broken}" if result.first_broken is not None else result.problems[0]
        err.print(f"first broken: {first}", highlight=False, soft_wrap=True)
        sys.exit(1)


@audit.command("rekey")
@click.pass_context
@handle_errors
def audit_rekey(ctx: click.Context) -> None:
    """Attest records written before the chain was keyed: check them, then seal a keyed checkpoint per article."""
    from bedside.editorial.desk import open_article_service

    with open_article_service(_settings(ctx)) as service:
        report = service.rekey_audit()
    if not report.checkpoints:
        out.print(f"nothing to re-key: every article's records are keyed; head {report.head}", highlight=False)
        return
    out.print(
        f"checked {report.legacy_records} unkeyed audit records (head {report.legacy_head}); sealed a keyed checkpoint "
        f"for {len(report.checkpoints)} article(s) under the audit key; new head {report.head}",
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        "[yellow]note:[/yellow] keep the new head outside this installation and pass it to "
        "`bedside audit verify --trusted-head`",
        highlight=False,
        soft_wrap=True,
    )
