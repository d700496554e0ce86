"""Editorial commands: `bedside users`, `bedside review` and `bedside articles export`.

Users, review and export act on the article database directly (the URL from the settings: SQLite in the data
directory unless BEDSIDE_DATABASE_URL says otherwise). Whoever can run these commands can read and change that
database, so `--as EMAIL` names the local account to act as without asking for its password.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bedside.cli.console import err, handle_errors, out, safe, safe_json, safe_markup
from bedside.cli.ops import audit_verify

__all__ = ["articles", "review", "users"]


if TYPE_CHECKING:
    from bedside.editorial.desk import SqlArticleService

_STATUS_CHOICE = click.Choice(["submitted", "under_review", "changes_requested", "approved", "rejected"])


def _articles(ctx: click.Context) -> SqlArticleService:
    """The editorial service for this data directory, opened once per command."""
    from bedside.config import load_settings
    from bedside.editorial.desk import open_article_service

    obj = ctx.ensure_object(dict)
    if "articles" not in obj:
        obj["articles"] = open_article_service(load_settings(data_dir=obj.get("data_dir")))
        ctx.call_on_close(obj["articles"].close)
    service: SqlArticleService = obj["articles"]
    return service


@click.group()
def users() -> None:
    """Reviewer, editor and admin accounts."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["reviewer", "editor", "admin"]), required=True, help="What they may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated).")
@click.pass_context
@handle_errors
def users_add(ctx: click.Context, email: str, role: str, password_stdin: bool) -> None:
    """Create an account; a generated password is printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    user, used = _articles(ctx).add_user(email, role, password)
    out.print(f"added {user.role.value} {safe(user.email)}", highlight=False, markup=False)
    if password is None:
        out.print(f"password (shown once): {used}", highlight=False, markup=False)


@users.command("token")
@click.argument("email")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True, help="How long it lasts.")
@click.option("--no-expiry", is_flag=True, help="Valid until revoked (for a service account you rotate yourself).")
@click.pass_context
@handle_errors
def users_token(ctx: click.Context, email: str, days: int, no_expiry: bool) -> None:
    """Print a new API token for the account (shown once; send it as `Authorization: Bearer TOKEN`)."""
    click.echo(_articles(ctx).issue_token(email, None if no_expiry else days))


@users.command("tokens")
@click.argument("email")
@click.pass_context
@handle_errors
def users_tokens(ctx: click.Context, email: str) -> None:
    """The account's API tokens: id, when made, when they expire (their values are never stored)."""
    found = _articles(ctx).tokens_of(email)
    for t in found:
        out.print(f"{t.id}  made {t.created}  expires {t.expires or 'never'}", highlight=False)
    if not found:
        out.print(f"{email} has no API tokens", highlight=False, markup=False)


@users.command("revoke-token")
@click.argument("email")
@click.argument("token_id", type=int)
@click.pass_context
@handle_errors
def users_revoke_token(ctx: click.Context, email: str, token_id: int) -> None:
    """Revoke one API token of the account (its id from `bedside users tokens EMAIL`)."""
    _articles(ctx).revoke_token(email, token_id)
    out.print(f"revoked token {token_id} of {email}", highlight=False, markup=False)


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (else one is made).")
@click.pass_context
@handle_errors
def users_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Reset the account's password; every session it has ends (its API tokens stay: revoke them separately)."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    user, used = _articles(ctx).set_password(email, password)
    out.print(f"new password set for {user.email}; its sessions have ended", highlight=False, markup=False)
    if password is None:
        out.print(f"password (shown once): {used}", highlight=False, markup=False)


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["reviewer", "editor", "admin"]))
@click.pass_context
@handle_errors
def users_role(ctx: click.Context, email: str, role: str) -> None:
    """Give the account another role (it applies to the next thing they do)."""
    user = _articles(ctx).set_role(email, role)
    out.print(f"{user.email} is now {user.role.value}", highlight=False, markup=False)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Every account with its role."""
    found = _articles(ctx).list_users()
    if as_json:
        rows = [
            {
                "email": u.email,
                "role": u.role.value,
                "active": u.active,
                "display_name": u.display_name,
                "credentials": u.credentials,
                "affiliation": u.affiliation,
            }
            for u in found
        ]
        click.echo(safe_json(json.dumps(rows, indent=2)))
        return
    from rich.table import Table

    table = Table("Email", "Role", "Active", "Shown as", title_justify="left")
    for u in found:
        table.add_row(safe(u.email), u.role.value, "yes" if u.active else "no", safe_markup(u.public_name))
    out.print(table if found else "No users yet: bedside users add EMAIL --role reviewer")


@users.command("profile")
@click.argument("email")
@click.option("--name", "display_name", help='The display name the public sees, e.g. "Dr Ann Lee".')
@click.option("--credentials", help='Degrees and titles, e.g. "MD, FRCP".')
@click.option("--affiliation", help='Where they work, e.g. "Department of Haematology, St Elsewhere Hospital".')
@click.pass_context
@handle_errors
def users_profile(
    ctx: click.Context, email: str, display_name: str | None, credentials: str | None, affiliation: str | None
) -> None:
    """Set how the Medical Advisory Board names a reviewer on approved articles and the board page (never by email)."""
    user = _articles(ctx).set_profile(email, display_name, credentials, affiliation)
    shown = user.public_name or "(no display name: approved articles say 'a member of the Medical Advisory Board')"
    line = f"{user.email}: {shown}" + (f" — {user.affiliation}" if user.affiliation else "")
    out.print(safe(line), highlight=False, markup=False)


@users.command("deactivate")
@click.argument("email")
@click.option("--undo", is_flag=True, help="Re-activate the account instead.")
@click.pass_context
@handle_errors
def users_deactivate(ctx: click.Context, email: str, undo: bool) -> None:
    """Stop an account from signing in and reviewing; its sessions end and its API tokens are deleted (re-activating
    it revives neither)."""
    user = _articles(ctx).set_active(email, undo)
    out.print(f"{safe(user.email)} is now {'active' if user.active else 'deactivated'}", highlight=False, markup=False)


@click.group()
def review() -> None:
    """Review articles as a local user (direct database access: `--as` needs no password)."""


@review.command("list")
@click.option("--status", type=_STATUS_CHOICE, help="Only articles with this status.")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def review_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Articles, most recently updated first."""
    from rich.markup import escape

    from bedside.editorial.interface import ReviewStatus

    found = _articles(ctx).list(ReviewStatus(status) if status else None, limit=limit)
    if as_json:
        rows = [
            {
                "slug": a.slug,
                "question": a.question,
                "status": a.status.value,
                "version": a.latest.number,
                "claimed_by": a.claimed_by,
                "sources_changed": a.sources_changed,
                "updated": a.updated,
            }
            for a in found
        ]
        click.echo(safe_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    if not found:
        out.print("No articles.")
        return
    # One line an article, never cut: a slug (the question's words and its full digest) is what the commands take.
    for a in found:
        flag = " [yellow](sources changed)[/yellow]" if a.sources_changed else ""
        claimed = f"  claimed by {escape(a.claimed_by)}" if a.claimed_by else ""
        line = f"{a.status.value:<17} v{a.latest.number:<3} {a.updated[:10]}  {a.slug}{claimed}{flag}"
        out.print(line, highlight=False, soft_wrap=True)


def _review_command(action: str, needs_comment: bool, summary: str) -> None:
    @review.command(action.replace("_", "-"), help=f"{summary}, acting as the local user --as EMAIL.")
    @click.argument("slug")
    @click.option("--comment", "-m", required=needs_comment, help="What to change, or why." if needs_comment else "")
    @click.option("--as", "as_email", required=True, metavar="EMAIL", help="The local account acting.")
    @click.option(
        "--version",
        "version",
        type=click.IntRange(1),
        metavar="N",
        help="The version you reviewed: refused when a newer one exists.",
    )
    @click.option(
        "--override",
        is_flag=True,
        hidden=action != "approve",
        help="Approve editor statements that bedside's check did not find in their cited sources "
        "(--comment gives the reason; the audit log records it).",
    )
    @click.pass_context
    @handle_errors
    def command(
        ctx: click.Context, slug: str, comment: str | None, as_email: str, version: int | None, override: bool
    ) -> None:
        if override and action != "approve":
            raise click.UsageError("--override applies to approve only")
        service = _articles(ctx)
        user = service.get_user(as_email)
        article = service.review(slug, action, user, comment or "", version, override=override)
        out.print(
            f"{safe(article.slug)}: {article.status.value} (version {article.latest.number})",
            highlight=False,
            markup=False,
            soft_wrap=True,  # the slug whole on one line, to copy
        )


for _action, _needs_comment, _summary in (
    ("claim", False, "Claim a submitted article for review"),
    ("release", False, "Hand a claimed article back unreviewed"),
    ("approve", False, "Approve the article's latest version (it becomes the public one)"),
    ("request_changes", True, "Send the article back to the editors (--comment says what to change)"),
    ("reject", True, "Reject the article and hide it from readers (--comment gives the reason)"),
):
    _review_command(_action, _needs_comment, _summary)


@review.command("history")
@click.argument("slug")
@click.pass_context
@handle_errors
def review_history(ctx: click.Context, slug: str) -> None:
    """The article's audit records, oldest first."""
    for e in _articles(ctx).history(slug):
        line = f"{e.at}  {e.actor}  {e.action}  {e.from_status or '-'} -> {e.to_status}  (version {e.version})"
        line += f": {e.comment}" if e.comment else ""
        out.print(safe(line), highlight=False, markup=False, soft_wrap=True)


review.add_command(audit_verify, "verify-audit")  # the command's name before `bedside audit verify`


@click.group()
def articles() -> None:
    """Articles: export, sources that changed, re-composing."""


@articles.command("export")
@click.option("--status", type=_STATUS_CHOICE, default="approved", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), help="Write one file per article.")
@click.pass_context
@handle_errors
def articles_export(ctx: click.Context, status: str, fmt: str, output: Path | None) -> None:
    """Write articles with their references (approved: the approved version) as Markdown or JSON."""
    from bedside.answer.render import to_markdown
    from bedside.editorial.interface import ReviewStatus

    files = _articles(ctx).export(ReviewStatus(status), "json" if fmt == "json" else "markdown", markdown=to_markdown)
    if output is None:
        if fmt == "json":
            click.echo(
                safe_json(json.dumps([json.loads(text) for text in files.values()], indent=2, ensure_ascii=False))
            )
        else:
            click.echo(safe("\n---\n\n".join(files.values())), nl=False)
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output / name).write_text(text, encoding="utf-8")
    err.print(f"wrote {len(files)} file(s) to {output}", highlight=False)


def check_changed_sources(ctx: click.Context, *, quiet: bool = False) -> list[str]:
    """Flag the articles whose sources changed (retracted, replaced, re-ingested, removed); their slugs.

    Skipped, quietly, while the data directory has no article database yet (nothing can be stale)."""
    from bedside.cli.context import open_bedside
    from bedside.config import load_settings

    settings = load_settings(data_dir=ctx.ensure_object(dict).get("data_dir"))
    if not settings.database_url and not (settings.data_dir / "bedside.db").exists():
        return []
    b = open_bedside(ctx)
    flagged = _articles(ctx).check_sources(b.source_states)
    if flagged and not quiet:
        err.print(
            f"[yellow]{len(flagged)} article(s) flagged: sources changed[/yellow] (see `bedside articles stale`)",
            highlight=False,
        )
    return flagged


@articles.command("stale")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def articles_stale(ctx: click.Context, as_json: bool) -> None:
    """Articles whose sources changed since they were composed, with what changed (checked now)."""
    check_changed_sources(ctx, quiet=True)
    found = _articles(ctx).stale()
    if as_json:
        rows = [
            {
                "slug": a.slug,
                "question": a.question,
                "status": a.status.value,
                "approved_version": a.approved_version,
                "latest_version": a.latest.number,
                "changes": list(a.sources_changes),
            }
            for a in found
        ]
        click.echo(safe_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    if not found:
        out.print("No article has sources that changed.")
        return
    for a in found:
        out.print(
            f"[bold]{safe_markup(a.slug)}[/bold]  ({a.status.value}, version {a.latest.number})",
            highlight=False,
            soft_wrap=True,  # the slug whole on one line, to copy
        )
        for change in a.sources_changes:
            out.print(f"  - {change}", highlight=False, markup=False, soft_wrap=True)
    err.print("Re-compose one with `bedside articles recompose SLUG`; the new version goes to review.")


@articles.command("recompose")
@click.argument("slug")
@click.option("--as", "as_email", metavar="EMAIL", help="The editor or admin acting (default: system).")
@click.option("--llm", is_flag=True, help="Compose with the configured LLM endpoint, verified against the sources.")
@click.pass_context
@handle_errors
def articles_recompose(ctx: click.Context, slug: str, as_email: str | None, llm: bool) -> None:
    """Compose a new version of an article from the current knowledge base; it goes to review (the approved
    version stays public until the new one is approved)."""
    from bedside.cli.context import open_bedside

    b = open_bedside(ctx)
    service = _articles(ctx)
    actor = service.get_user(as_email) if as_email else None
    article = service.regenerate(slug, lambda question: b.compose_article(question, llm=llm), actor)
    check_changed_sources(ctx, quiet=True)
    article = service.get(slug)
    out.print(
        f"{safe(article.slug)}: version {article.latest.number} composed, {article.status.value}",
        highlight=False,
        markup=False,
        soft_wrap=True,  # the slug whole on one line, to copy
    )
    for change in article.sources_changes:
        out.print(f"  still flagged: {change}", highlight=False, markup=False, soft_wrap=True)
