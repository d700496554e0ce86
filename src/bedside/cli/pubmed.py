"""`bedside pubmed search`, `ingest` (NCBI's E-utilities) and `sync` (MEDLINE baseline and update files).

Identity and limits come from the settings (BEDSIDE_NCBI_EMAIL, BEDSIDE_NCBI_API_KEY, BEDSIDE_NCBI_TOOL); every
bedside process using the same key shares one rate limit (3 requests a second without a key, 10 with one).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bedside.cli.console import err, handle_errors, out

if TYPE_CHECKING:
    import httpx

    from bedside.config import Settings
    from bedside.pubmed.eutils import EUtils

__all__ = ["pmc", "pubmed"]

_DATE = click.DateTime(formats=["%Y-%m-%d", "%Y/%m/%d"])


def transport() -> httpx.BaseTransport | None:
    """The HTTP transport for E-utilities requests: the network (None); tests replace this function."""
    return None


def _client(settings: Settings) -> EUtils:
    from bedside.pubmed.eutils import EUtils, NcbiConfig
    from bedside.pubmed.ncbi_rate import RateLimit, rate_for

    if not settings.ncbi_email:
        err.print(
            "[yellow]notice:[/yellow] NCBI asks for a contact email with every request: set BEDSIDE_NCBI_EMAIL",
            highlight=False,
        )
    config = NcbiConfig(
        settings.ncbi_base_url, settings.ncbi_tool, settings.ncbi_email, settings.ncbi_api_key, settings.ncbi_timeout
    )
    limit = RateLimit(settings.data_dir / "pubmed", settings.ncbi_api_key, rate_for(settings.ncbi_api_key))
    return EUtils(config, limit, transport=transport())


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.group()
def pubmed() -> None:
    """Search PubMed and ingest what it finds (NCBI E-utilities)."""


@pubmed.command("search")
@click.argument("query")
@click.option("--since", type=_DATE, help="Only records added to PubMed on or after this date (YYYY-MM-DD).")
@click.option("--until", type=_DATE, help="Only records added up to this date (default: today).")
@click.option("--max", "max_ids", default=20, show_default=True, type=click.IntRange(0, 10_000), help="PMIDs shown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def pubmed_search(
    ctx: click.Context, query: str, since: datetime | None, until: datetime | None, max_ids: int, as_json: bool
) -> None:
    """Count the PubMed records a query matches and list the newest PMIDs (nothing is ingested)."""
    from bedside.config import load_settings

    settings = load_settings(data_dir=ctx.ensure_object(dict).get("data_dir"))
    start, end = _day(since), _day(until)
    with _client(settings) as client:
        found = client.esearch(query, retmax=max_ids, mindate=start, maxdate=end if start or end else None)
    if as_json:
        data = {"query": query, "count": found.count, "translation": found.translation, "pmids": list(found.ids)}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    out.print(f"{found.count} records match", highlight=False)
    if found.translation:
        out.print(f"searched as: {found.translation}", highlight=False, markup=False, soft_wrap=True)
    if found.ids:
        out.print("newest: " + " ".join(found.ids), highlight=False, soft_wrap=True)


@pubmed.command("ingest")
@click.argument("query")
@click.option("--since", type=_DATE, help="Only records added to PubMed on or after this date (YYYY-MM-DD).")
@click.option("--until", type=_DATE, help="Only records added up to this date (default: today).")
@click.option("--max", "max_records", type=click.IntRange(1), help="Fetch at most this many records this run.")
@click.option("--page-size", default=500, show_default=True, type=click.IntRange(1, 10_000), help="Records a fetch.")
@click.option("--collection", default="", metavar="NAME", help="Put the records into this named collection.")
@click.pass_context
@handle_errors
def pubmed_ingest(
    ctx: click.Context,
    query: str,
    since: datetime | None,
    until: datetime | None,
    max_records: int | None,
    page_size: int,
    collection: str,
) -> None:
    """Fetch every record a PubMed query matches and ingest it; re-running continues where a run stopped and
    fetches nothing already ingested."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bedside.cli.context import open_bedside
    from bedside.cli.editorial import check_changed_sources
    from bedside.pubmed.harvest import HarvestLog, harvest

    b = open_bedside(ctx)
    log = HarvestLog(b.data_dir / "pubmed" / "harvest.sqlite")
    ctx.call_on_close(log.close)
    bar = Progress(
        TextColumn("[bold]PubMed"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    task = bar.add_task("fetch", total=None)
    with _client(b.settings) as client, bar:
        report = harvest(
            client,
            b.kb,
            log,
            query,
            since=_day(since),
            until=_day(until),
            max_records=max_records,
            page=page_size,
            collection=collection,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        requests, retries = client.requests, client.retries
    if report.ingest.added or report.ingest.updated:
        b.prepare_search()
        check_changed_sources(ctx)
    for day in report.truncated:
        err.print(f"[yellow]warning:[/yellow] {day}: more records than one search can list; the first 10,000 taken")
    for where, message in report.ingest.failed:
        err.print(f"[red]failed:[/red] {where}: {message}", highlight=False, soft_wrap=True)
    i = report.ingest
    out.print(
        f"{report.found} match; {report.already} ingested before; {report.fetched} fetched in {report.windows} date "
        f"window(s) ({requests} requests, {retries} retried): {i.added} added, {i.updated} updated, "
        f"{i.unchanged} unchanged, {len(i.failed)} failed",
        highlight=False,
    )
    if i.failed:
        sys.exit(1)


@pubmed.command("sync")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--collection", default="", metavar="NAME", help="Put the records into this named collection.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def pubmed_sync(ctx: click.Context, folder: Path, collection: str, as_json: bool) -> None:
    """Apply MEDLINE baseline then update files (pubmedYYnNNNN.xml.gz, with their .md5) in order, deletions
    included; re-running continues after the last file applied and does nothing when current."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bedside.cli.context import open_bedside
    from bedside.cli.editorial import check_changed_sources
    from bedside.pubmed.sync import sync_distribution

    b = open_bedside(ctx)
    bar = Progress(
        TextColumn("[bold]MEDLINE {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    task = bar.add_task("", total=None)
    with bar:
        report = sync_distribution(
            b.kb,
            folder,
            collection=collection,
            progress=lambda name, done, total: bar.update(task, description=name, completed=done, total=total),
        )
    i = report.ingest
    if i.added or i.updated or report.deleted:
        b.prepare_search()
        check_changed_sources(ctx)
    if as_json:
        data = {
            "applied": report.applied,
            "skipped": report.skipped,
            "added": i.added,
            "updated": i.updated,
            "unchanged": i.unchanged,
            "deleted": report.deleted,
            "failed": [list(f) for f in i.failed],
            "problems": report.problems,
        }
        click.echo(json.dumps(data, indent=2))
    else:
        for problem in report.problems:
            err.print(f"[red]stopped:[/red] {problem}", highlight=False, soft_wrap=True)
        for where, message in i.failed:
            err.print(f"[red]failed:[/red] {where}: {message}", highlight=False, soft_wrap=True)
        out.print(
            f"{len(report.applied)} file(s) applied, {report.skipped} already applied: {i.added} added, "
            f"{i.updated} updated, {report.deleted} deleted, {len(i.failed)} failed",
            highlight=False,
        )
    if report.problems or i.failed:
        sys.exit(1)


@click.group()
def pmc() -> None:
    """Open-access full text from PubMed Central for PubMed records in the knowledge base."""


@pmc.command("fetch")
@click.argument("pmids", nargs=-1)
@click.option(
    "--updated-since",
    type=_DATE,
    help="Instead: fetch again the full texts held here that PMC's Open Access Subset updated since this date.",
)
@click.option("--collection", default="", metavar="NAME", help="Put the full texts into this named collection.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def pmc_fetch(
    ctx: click.Context, pmids: tuple[str, ...], updated_since: datetime | None, collection: str, as_json: bool
) -> None:
    """Fetch and ingest the open-licence full text (JATS) of these PMIDs' articles, or of every PubMed record in
    the knowledge base; the licence is recorded on each document."""
    from bedside.cli.context import open_bedside
    from bedside.cli.editorial import check_changed_sources
    from bedside.errors import InvalidInput
    from bedside.pubmed.pmc import fetch_full_text, refresh_full_text

    bad = [p for p in pmids if not p.isdigit()]
    if bad:
        raise InvalidInput(f"not a PMID: {bad[0]!r}")
    if pmids and updated_since:
        raise InvalidInput("give PMIDs or --updated-since, not both")
    b = open_bedside(ctx)
    with _client(b.settings) as client:
        if updated_since is not None:
            report = refresh_full_text(client, b.kb, updated_since.date(), collection=collection)
        else:
            wanted = list(pmids) or b.kb.medline_pmids()
            report = fetch_full_text(client, b.kb, wanted, collection=collection)
    i = report.ingest
    if i.added or i.updated:
        b.prepare_search()
        check_changed_sources(ctx)
    if as_json:
        data = {
            "asked": report.asked,
            "in_pmc": report.in_pmc,
            "open": report.open,
            "added": i.added,
            "updated": i.updated,
            "unchanged": i.unchanged,
            "skipped": [list(s) for s in report.skipped],
            "failed": [list(f) for f in i.failed],
        }
        click.echo(json.dumps(data, indent=2))
        return
    for pmcid, why in report.skipped:
        out.print(f"skipped {pmcid}: {why}", highlight=False)
    out.print(
        f"{report.asked} PMIDs: {report.in_pmc} in PMC, {report.open} open-licence; {i.added} added, "
        f"{i.updated} updated, {i.unchanged} unchanged, {len(i.failed)} failed",
        highlight=False,
    )
