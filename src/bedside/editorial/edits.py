"""An editor's changes to a version: statements may change, but every statement keeps a citation to a source
that the edited version already had.

Provenance survives editing: a statement that is not word for word one of the base version's (with the same
sources) is the editor's, marked `"editor": true` and checked against its cited sources by the `Check` given (the
same verifier as composed statements); without one it counts as unchecked, so unsupported. References that no
statement cites any more are dropped, and the rest renumbered in order of first citation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any, NamedTuple

from bedside.errors import InvalidInput

__all__ = ["Check", "Verdict", "apply_edit", "prechecked", "unsupported_statements"]

MAX_STATEMENT = 5_000
UNCHECKED = "not checked against its sources"


class Verdict(NamedTuple):
    """Whether an editor's statement is supported by its cited sources, why, and the spans that support it."""

    supported: bool
    reason: str
    provenance: list[dict[str, Any]]  # the supporting spans when supported


# (statement text, ids of the documents it cites, its provenance so far) -> the verdict
Check = Callable[[str, list[str], list[dict[str, Any]]], Verdict]


def apply_edit(base: dict[str, Any], edited: Any, check: Check | None = None) -> dict[str, Any]:
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
    doc_of = {ref["number"]: str(ref.get("document_id")) for ref in references}
    known = _base_statements(base)
    bottom_line = [_provenance(s, doc_of, known, check) for s in bottom_line]
    for sec in sections:
        sec["statements"] = [_provenance(s, doc_of, known, check) for s in sec["statements"]]
    references, bottom_line, sections = _renumber(references, bottom_line, sections)
    return {
        **base,
        "title": title.strip(),
        "bottom_line": bottom_line,
        "sections": sections,
        "references": references,
    }


def prechecked(base: dict[str, Any], edited: Any, check: Check) -> Check:
    """Run `check` on the edit's changed statements now, and return a check that answers from those verdicts.

    Verifying is slow and may wait for the knowledge base, so it runs before the edit's transaction, never inside
    it; a statement not seen here (the base changed meanwhile) counts as unchecked, so unsupported."""
    verdicts: dict[tuple[str, tuple[str, ...]], Verdict] = {}

    def recording(text: str, documents: list[str], provenance: list[dict[str, Any]]) -> Verdict:
        verdict = verdicts[(text, tuple(documents))] = check(text, documents, provenance)
        return verdict

    with suppress(InvalidInput):  # refused again, with the same message, inside the transaction
        apply_edit(base, edited, recording)

    def lookup(text: str, documents: list[str], provenance: list[dict[str, Any]]) -> Verdict:
        return verdicts.get((text, tuple(documents))) or Verdict(False, UNCHECKED, [])

    return lookup


def unsupported_statements(answer: dict[str, Any]) -> list[str]:
    """The texts of an answer's editor statements that the verifier did not find in their cited sources."""
    return [s.get("text", "") for s in _all_statements(answer) if s.get("editor") is True and not s.get("supported")]


def _all_statements(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for s in answer.get("bottom_line", []) or []:
        if isinstance(s, dict):
            yield s
    for sec in answer.get("sections", []) or []:
        for s in (sec.get("statements", []) if isinstance(sec, dict) else []) or []:
            if isinstance(s, dict):
                yield s


def _key(text: str, documents: list[str]) -> tuple[str, tuple[str, ...]]:
    return " ".join(text.split()), tuple(sorted(set(documents)))


def _base_statements(base: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], dict[str, Any]]:
    doc_of = {ref.get("number"): str(ref.get("document_id")) for ref in base.get("references", []) or []}
    return {
        _key(str(s.get("text", "")), [doc_of.get(n, "") for n in s.get("citations", [])]): s
        for s in _all_statements(base)
    }


def _provenance(
    s: dict[str, Any],
    doc_of: dict[int, str],
    known: dict[tuple[str, tuple[str, ...]], dict[str, Any]],
    check: Check | None,
) -> dict[str, Any]:
    """An unchanged statement as it was (its provenance and any verdict); a changed or new one as the editor's,
    checked against its cited sources."""
    documents = [doc_of[n] for n in s["citations"]]
    same = known.get(_key(s["text"], documents))
    if same is not None:
        return {**same, "text": s["text"], "citations": s["citations"]}
    verdict = check(s["text"], documents, s["provenance"]) if check else Verdict(False, UNCHECKED, [])
    provenance = verdict.provenance if verdict.supported and verdict.provenance else s["provenance"]
    return {
        "text": s["text"],
        "citations": s["citations"],
        "provenance": provenance,
        "editor": True,
        "supported": verdict.supported,
        "check": verdict.reason,
    }


def _renumber(
    references: list[dict[str, Any]], bottom_line: list[dict[str, Any]], sections: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Drop references no statement cites; number the rest in order of first citation (bottom line first)."""
    order: dict[int, int] = {}
    for s in [*bottom_line, *(s for sec in sections for s in sec["statements"])]:
        for n in s["citations"]:
            order.setdefault(n, len(order) + 1)

    def cited(s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "citations": sorted(order[n] for n in s["citations"])}

    kept = sorted(
        ({**ref, "number": order[ref["number"]]} for ref in references if ref["number"] in order),
        key=lambda ref: ref["number"],
    )
    return (
        kept,
        [cited(s) for s in bottom_line],
        [{**sec, "statements": [cited(s) for s in sec["statements"]]} for sec in sections],
    )


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
