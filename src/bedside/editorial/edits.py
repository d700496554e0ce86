"""An editor's changes to a version: statements may change, but every statement keeps a citation to a source
that the edited version already had."""

from __future__ import annotations

from typing import Any

from bedside.errors import InvalidInput

__all__ = ["apply_edit"]

MAX_STATEMENT = 5_000


def apply_edit(base: dict[str, Any], edited: Any) -> dict[str, Any]:
    """The new version's answer: `base` with the edited title, bottom line, sections and references.

    Everything else (question, audience, meta, disclaimer) stays as in `base`. Raises InvalidInput when a statement
    has no citation, cites a number missing from the references, or a reference is not one of `base`'s sources.
    """
    if not isinstance(edited, dict):
        raise InvalidInput("the edited answer must be a JSON object")
    references = _references(edited.get("references", base.get("references", [])), base)
    numbers = {ref["number"] for ref in references}
    bottom_line = _statements(edited.get("bottom_line", []), numbers, "bottom line")
    sections = _sections(edited.get("sections", []), numbers)
    if not bottom_line and not any(sec["statements"] for sec in sections):
        raise InvalidInput("an answer needs at least one statement")
    title = edited.get("title", base.get("title", ""))
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("the title must be non-empty text")
    return {
        **base, "title": title.strip(), "bottom_line": bottom_line, "sections": sections, "references": references,
    }  # fmt: skip


def _references(value: Any, base: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidInput("references must be a list")
    known = {str(ref.get("document_id")): ref for ref in base.get("references", []) if isinstance(ref, dict)}
    found: list[dict[str, Any]] = []
    for ref in value:
        if not isinstance(ref, dict) or not isinstance(ref.get("number"), int):
            raise InvalidInput("each reference needs an integer 'number'")
        original = known.get(str(ref.get("document_id")))
        if original is None:
            raise InvalidInput(
                f"reference {ref['number']} ({ref.get('document_id')!r}) is not a source of the version being edited;"
                " editors may change statements but not add sources"
            )
        found.append({**original, "number": ref["number"]})  # the source's details are not editable
    if len({ref["number"] for ref in found}) != len(found):
        raise InvalidInput("reference numbers must be unique")
    return found


def _sections(value: Any, numbers: set[int]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidInput("sections must be a list")
    sections = []
    for index, sec in enumerate(value, start=1):
        if not isinstance(sec, dict) or not isinstance(sec.get("heading"), str) or not sec["heading"].strip():
            raise InvalidInput(f"section {index} needs a heading")
        heading = sec["heading"].strip()
        sections.append({"heading": heading, "statements": _statements(sec.get("statements", []), numbers, heading)})
    return sections


def _statements(value: Any, numbers: set[int], where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: statements must be a list")
    return [_statement(item, numbers, f"{where}, statement {i}") for i, item in enumerate(value, start=1)]


def _statement(item: Any, numbers: set[int], where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: must be an object with 'text' and 'citations'")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_STATEMENT:
        raise InvalidInput(f"{where}: text must be 1 to {MAX_STATEMENT} characters")
    citations = item.get("citations")
    if not isinstance(citations, list) or not citations or not all(isinstance(n, int) for n in citations):
        raise InvalidInput(f"{where}: every statement needs at least one citation")
    missing = sorted(set(citations) - numbers)
    if missing:
        raise InvalidInput(f"{where}: cites {missing}, which the references do not list")
    provenance = item.get("provenance", [])
    if not isinstance(provenance, list) or not all(isinstance(p, dict) for p in provenance):
        raise InvalidInput(f"{where}: provenance must be a list of objects")
    return {"text": text.strip(), "citations": list(dict.fromkeys(citations)), "provenance": provenance}
