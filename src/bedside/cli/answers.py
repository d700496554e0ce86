"""`bedside ask` and `bedside chat`, and an answer printed for a terminal.

The terminal form (rich markup: a bold bottom line, sections, numbered citations, references) lives here, at the
edge; the core renders only the JSON and Markdown forms (`bedside.answer.render`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.rule import Rule

from bedside.answer.render import led_text, reference_line, review_line, to_markdown
from bedside.cli.console import err, handle_errors, out, safe, safe_json
from bedside.cli.context import load_starter, open_bedside
from bedside.errors import InvalidInput

if TYPE_CHECKING:
    from bedside.facade import Bedside
    from bedside.model import Answer, Statement

__all__ = ["ask", "chat", "print_answer"]


@click.command()
@click.argument("question")
@click.option(
    "--audience",
    type=click.Choice(["clinician", "student", "patient"]),
    default=None,
    help="Who the answer is for (default: BEDSIDE_DEFAULT_AUDIENCE or clinician).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the structured answer as JSON.")
@click.option("--markdown", is_flag=True, help="Print plain Markdown.")
@click.option("--conversation", help="Continue a conversation (an id printed with an earlier answer).")
@click.option("--llm", is_flag=True, help="Compose with the configured LLM endpoint, verified against the sources.")
@click.pass_context
@handle_errors
def ask(
    ctx: click.Context,
    question: str,
    audience: str | None,
    as_json: bool,
    markdown: bool,
    conversation: str | None,
    llm: bool,
) -> None:
    """Answer a clinical question with cited statements from the knowledge base."""
    b = open_bedside(ctx)
    load_starter(b)
    answer = _ask(b, question, audience or b.settings.default_audience, conversation, llm, stream=not as_json)
    if as_json:
        click.echo(safe_json(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False)))
    elif markdown:
        click.echo(safe(to_markdown(answer)), nl=False)
    else:
        print_answer(answer, out)


def _ask(b: Bedside, question: str, audience: str, conversation: str | None, llm: bool, stream: bool) -> Answer:
    if not (llm and stream and err.is_terminal):
        return b.ask(question, audience=audience, conversation=conversation, llm=llm)
    err.print("[dim]composing with the LLM; each statement appears once it has been checked against its sources…[/dim]")
    answer = b.ask(
        question,
        audience=audience,
        conversation=conversation,
        llm=True,
        on_statement=lambda text: err.print(f"  · {safe(text)}", style="dim", highlight=False, markup=False),
    )
    err.print("[dim]verified answer:[/dim]")
    return answer


@click.command()
@click.option("--audience", type=click.Choice(["clinician", "student", "patient"]), default=None)
@click.option("--llm", is_flag=True, help="Compose with the configured LLM endpoint.")
@click.pass_context
@handle_errors
def chat(ctx: click.Context, audience: str | None, llm: bool) -> None:
    """Ask questions and follow-ups interactively (an empty line or Ctrl-D ends)."""
    b = open_bedside(ctx)
    load_starter(b)
    conversation: str | None = None
    while True:
        try:
            question = click.prompt("\nquestion", default="", show_default=False, prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        try:
            answer = _ask(b, question, audience or b.settings.default_audience, conversation, llm, stream=True)
        except InvalidInput as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            continue
        conversation = answer.conversation
        print_answer(answer, out)


def print_answer(answer: Answer, console: Any) -> None:
    """Print the answer to a rich console: bold bottom line, sections, numbered citations, references."""
    console.print(Rule(escape(answer.title), style="bold"))
    if answer.insufficient_evidence:
        console.print("[bold]The knowledge base holds too little evidence to answer this question.[/bold]")
        console.print("Searched for: " + escape("; ".join(answer.searched)), highlight=False)
        if answer.references:
            console.print("Closest material found:")
    elif answer.bottom_line:
        text = " ".join(f"{escape(led_text(s, answer))} {_marks(s)}" for s in answer.bottom_line)
        console.print(f"[bold]{text}[/bold]", highlight=False)
    for sec in answer.sections:
        console.print(f"\n[bold underline]{escape(sec.heading)}[/bold underline]")
        for s in sec.statements:
            console.print(f"  • {escape(led_text(s, answer))} [cyan]{_marks(s)}[/cyan]", highlight=False)
    if answer.references:
        if not answer.insufficient_evidence:
            console.print("\n[bold underline]References[/bold underline]")
        for r in answer.references:
            console.print(f"  {r.number}. {escape(reference_line(r))}", highlight=False)
    for notice in answer.notices:
        console.print(f"\n[yellow]notice:[/yellow] {escape(notice)}", highlight=False)
    console.print(f"\n[italic]{escape(answer.disclaimer)}[/italic]", highlight=False)
    style = "green" if answer.status == "approved" else "yellow"
    console.print(f"[{style}]{escape(review_line(answer))}[/{style}]", highlight=False)
    console.print(f"[dim]conversation: {answer.conversation}[/dim]", highlight=False)


def _marks(s: Statement) -> str:
    return "".join(f"[{n}]" for n in s.citations).replace("[", "\\[")
