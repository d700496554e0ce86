"""Knowledge-base commands: `bedside ingest`, `search`, `remove`, `stats`, `kb` and `collections`.

Listed on the `bedside` group by cli/__init__.py and imported when one of them runs. `Bedside`, the settings and
rich's tables are imported where they are used, so that `bedside search --help` stays quick.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from bedside.cli.console import err, handle_errors, out, safe, safe_json, safe_markup
from bedside.cli.context import BarProgress, load_starter, open_bedside
from bedside.errors import InvalidInput
from bedside.ingest import FORMATS
from bedside.knowledge import check_collection_name
from bedside.model import EvidenceType

if TYPE_CHECKING:
    from bedside.model import SearchHit

__all__ = ["collections", "ingest", "kb", "remove", "search", "stats"]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Reader to use instead of detecting by file type.")
@click.option("--type", "etype", help="Evidence type for every document read (e.g. guideline).")
@click.option(
    "--collection",
    default="",
    metavar="NAME",
    help="Put every document read into this named collection (e.g. local-protocols; see `bedside collections`).",
)
@click.pass_context
@handle_errors
def ingest(ctx: click.Context, paths: tuple[str, ...], fmt: str | None, etype: str | None, collection: str) -> None:
    """Read files, folders or globs (Markdown, MEDLINE/JATS XML, PDF, HTML, JSON Lines) into the knowledge base."""
    if etype:
        try:
            EvidenceType.parse(etype)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    if collection:
        check_collection_name(collection)
    b = open_bedside(ctx)
    report = b.ingest(paths, format=fmt, evidence_type=etype, progress=BarProgress(), collection=collection)
    if report.added or report.updated:
        with err.status("Preparing the search index", spinner="dots"):
            b.prepare_search()
    for where, message in report.failed:
        err.print(f"[red]failed:[/red] {safe_markup(where)}: {safe_markup(message)}", highlight=False, soft_wrap=True)
    for where, message in report.warnings:
        err.print(
            f"[yellow]warning:[/yellow] {safe_markup(where)}: {safe_markup(message)}", highlight=False, soft_wrap=True
        )
    if report.added or report.updated:
        from bedside.cli.editorial import check_changed_sources

        check_changed_sources(ctx)
    docs, passages = b.counts()
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.failed)} failed; {report.passages} passages written "
        f"(knowledge base: {docs} documents, {passages} passages)",
        highlight=False,
    )
    if report.failed:
        sys.exit(1)


@click.command()
@click.argument("query")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000), help="Number of hits.")
@click.option("--type", "etypes", multiple=True, help="Only this evidence type (repeatable), e.g. guideline.")
@click.option("--year-min", type=int, help="Only sources from this year on.")
@click.option("--year-max", type=int, help="Only sources up to this year.")
@click.option("--source", "sources", multiple=True, help="Only this journal or publisher (repeatable).")
@click.option("--document", "documents", multiple=True, help="Only this document id (repeatable).")
@click.option("--no-priors", is_flag=True, help="Rank by relevance alone, without evidence-type and recency priors.")
@click.option(
    "--include-retracted",
    is_flag=True,
    help="Also show retracted articles and notices (retraction, expression of concern, erratum), marked as such.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def search(
    ctx: click.Context,
    query: str,
    limit: int,
    etypes: tuple[str, ...],
    year_min: int | None,
    year_max: int | None,
    sources: tuple[str, ...],
    documents: tuple[str, ...],
    no_priors: bool,
    include_retracted: bool,
    as_json: bool,
) -> None:
    """Search the knowledge base's passages (hybrid lexical + dense ranking)."""
    b = open_bedside(ctx)
    load_starter(b)
    hits = b.search(
        query,
        limit,
        evidence_type=list(etypes) or None,
        year_min=year_min,
        year_max=year_max,
        source=list(sources) or None,
        document_id=list(documents) or None,
        priors=not no_priors,
        include_withdrawn=include_retracted,
    )
    if as_json:
        click.echo(safe_json(json.dumps([_hit_json(h) for h in hits], indent=2, ensure_ascii=False)))
        return
    if not hits:
        out.print("No passages found.")
        return
    for rank, h in enumerate(hits, start=1):
        meta = safe_markup(" · ".join(x for x in (h.evidence_type.label, h.source, str(h.year or "")) if x))
        title, doc_id = safe_markup(h.title), safe_markup(h.document_id)
        marks = (f" [red]{safe_markup('[' + h.withdrawn.upper() + ']')}[/red]" if h.withdrawn else "") + (
            f" [blue]{safe_markup('[' + h.collection + ']')}[/blue]" if h.collection else ""
        )
        out.print(f"[bold]{rank}. {title}[/bold]{marks}  [dim]({meta}; {doc_id}; score {h.score:.3f})[/dim]")
        if h.section:
            out.print(f"   [italic]{safe_markup(h.section)}[/italic]", highlight=False)
        text = h.text if len(h.text) <= 400 else h.text[:400].rsplit(" ", 1)[0] + " …"
        out.print("   " + safe(text.replace("\n\n", " ")), highlight=False, markup=False)
        if h.url:
            out.print(f"   [dim]{safe_markup(h.url)}[/dim]", highlight=False)


def _hit_json(h: SearchHit) -> dict[str, Any]:
    return {
        "document_id": h.document_id,
        "passage_id": h.passage_id,
        "score": h.score,
        "title": h.title,
        "section": h.section,
        "type": h.evidence_type.label,
        "source": h.source,
        "year": h.year,
        "url": h.url,
        "start": h.start,
        "end": h.end,
        "text": h.text,
        **({"withdrawn": h.withdrawn} if h.withdrawn else {}),
        **({"collection": h.collection} if h.collection else {}),
    }


@click.command()
@click.argument("document_ids", nargs=-1, required=True)
@click.pass_context
@handle_errors
def remove(ctx: click.Context, document_ids: tuple[str, ...]) -> None:
    """Remove documents (and their passages) by id."""
    b = open_bedside(ctx)
    for doc_id in document_ids:
        b.remove(doc_id)
        out.print(f"removed {safe(doc_id)}", highlight=False, markup=False)
    from bedside.cli.editorial import check_changed_sources

    check_changed_sources(ctx)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of documents and passages, by evidence type and by source."""
    b = open_bedside(ctx)
    load_starter(b)
    data = b.stats()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    out.print(f"[bold]{data['documents']}[/bold] documents, [bold]{data['passages']}[/bold] passages")
    if data.get("retracted") or data.get("notices"):
        out.print(f"{data['retracted']} retracted and {data['notices']} notices (kept, never used as evidence)")
    from rich.table import Table

    for title, key, label in (("By evidence type", "by_type", _type_label), ("By source", "by_source", str)):
        table = Table(title=title, title_justify="left")
        table.add_column(title.split()[-1].capitalize())
        table.add_column("Documents", justify="right")
        for name, count in data[key].items():
            table.add_row(safe(label(name)), str(count))
        out.print(table)


def _type_label(value: str) -> str:
    return EvidenceType(value).label


@click.group()
def kb() -> None:
    """The starter knowledge base shipped with bedside."""


@kb.command("status")
@click.pass_context
@handle_errors
def kb_status(ctx: click.Context) -> None:
    """Show whether the starter knowledge base is enabled, loaded and current."""
    b = open_bedside(ctx)
    s = b.starter_status()
    state = "loaded" if s["loaded"] else "not loaded"
    current = "current" if s["current"] else "out of date" if s["loaded"] else "-"
    out.print(
        f"starter knowledge base: {'enabled' if s['enabled'] else 'disabled'}, {state} "
        f"({s['documents']} of {s['shipped']} digests, {current})"
    )


@kb.command("load")
@click.pass_context
@handle_errors
def kb_load(ctx: click.Context) -> None:
    """Load or refresh the starter knowledge base now."""
    b = open_bedside(ctx)
    report = b.load_starter_kb(progress=BarProgress("Loading starter knowledge base:"))
    if report is not None and (report.added or report.updated):
        from bedside.cli.editorial import check_changed_sources

        check_changed_sources(ctx)
    for where, message in report.failed if report else []:
        err.print(f"[yellow]starter knowledge base:[/yellow] {where}: {message}", highlight=False)
    out.print(f"starter knowledge base: {b.starter_status()['documents']} digests loaded")


@kb.command("unload")
@click.pass_context
@handle_errors
def kb_unload(ctx: click.Context) -> None:
    """Remove the starter digests from this data directory; they stay out until `bedside kb load`."""
    b = open_bedside(ctx)
    out.print(f"removed {b.unload_starter_kb()} starter digests")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def collections(ctx: click.Context, as_json: bool) -> None:
    """Named collections (e.g. local protocols): their priority over the literature and label in references."""
    if ctx.invoked_subcommand is not None:
        return
    found = open_bedside(ctx).collections()
    if as_json:
        rows = [{"name": c.name, "priority": c.priority, "label": c.label, "documents": c.documents} for c in found]
        click.echo(safe_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    if not found:
        out.print("No collections (ingest into one with `bedside ingest --collection NAME ...`).")
        return
    from rich.table import Table

    table = Table("Collection", "Priority", "Label", title_justify="left")
    table.add_column("Documents", justify="right")
    for c in found:
        table.add_row(safe_markup(c.name), str(c.priority), safe_markup(c.label), str(c.documents))
    out.print(table)


@collections.command("set")
@click.argument("name")
@click.option("--priority", type=int, help="0 (ranked as the literature) to 10; a named collection starts at 1.")
@click.option("--label", help='How references from it are labelled (default "Local protocol").')
@click.pass_context
@handle_errors
def collections_set(ctx: click.Context, name: str, priority: int | None, label: str | None) -> None:
    """Set a collection's priority and label."""
    if priority is None and label is None:
        raise InvalidInput("nothing to set: give --priority and/or --label")
    c = open_bedside(ctx).set_collection(name, priority=priority, label=label)
    out.print(safe(f"{c.name}: priority {c.priority}, label {c.label!r}"), highlight=False, markup=False)
