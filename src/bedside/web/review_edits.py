"""The review desk's edit form and change requests: an editor's form read into a new version's answer, and a
reviewer's per-statement notes joined to (and read back from) the change request's comment."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bedside.editorial.interface import AuditEvent
from bedside.errors import InvalidInput

__all__ = [
    "ChangeRequest",
    "EditGroup",
    "EditPage",
    "EditStatement",
    "Fields",
    "change_comment",
    "citation_numbers",
    "edit_group",
    "edited_answer",
    "form_value",
    "group_keys",
    "latest_change_request",
    "statement_notes",
    "whole_number",
]

Fields = Mapping[str, Sequence[str]]  # a submitted form: name -> every value given


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A reviewer's request for changes: who, when, on which version, the general comment and per-statement notes
    (statement key such as "bl:0" or "2:1" -> note)."""

    by: str
    at: str
    version: int
    comment: str
    notes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class EditStatement:
    name: str  # the form field holding its text
    text: str
    citations: tuple[int, ...]
    note: str = ""  # the reviewer's note on this statement, from the latest change request

    @property
    def id(self) -> str:
        return self.name.replace(":", "-")


@dataclass(frozen=True, slots=True)
class EditGroup:
    key: str  # "bl" for the bottom line, else the section's index
    heading: str
    statements: tuple[EditStatement, ...]
    new_text: str
    new_citations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EditPage:
    slug: str
    question: str
    title: str
    base: int
    groups: tuple[EditGroup, ...]
    references: tuple[tuple[int, str], ...]  # (number, title)
    change_request: ChangeRequest | None = None


# -- the edit form ---------------------------------------------------------------------------------------------------


def edited_answer(base: dict[str, Any], fields: Fields | None, *, drop_empty: bool = True) -> dict[str, Any]:
    """`base` with the form's title and statement texts; an emptied statement is dropped, a new one is added with
    the citations ticked for it. Citations and provenance of existing statements are kept as they were."""
    fields = fields or {}

    def statements(key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for i, s in enumerate(items):
            text = form_value(fields, f"text:{key}:{i}", str(s.get("text", ""))).strip()
            if text or not drop_empty:
                kept.append({**s, "text": text})
        new = form_value(fields, f"new:{key}").strip()
        if new and drop_empty:
            kept.append({"text": new, "citations": citation_numbers(fields.get(f"cite:{key}", ())), "provenance": []})
        return kept

    sections = [
        {"heading": sec.get("heading", ""), "statements": statements(str(i), sec.get("statements", []))}
        for i, sec in enumerate(base.get("sections", []))
    ]
    return {
        "title": form_value(fields, "title", str(base.get("title", ""))).strip(),
        "bottom_line": statements("bl", base.get("bottom_line", [])),
        "sections": [s for s in sections if s["statements"] or not drop_empty],
        "references": base.get("references", []),
    }


def edit_group(
    key: str,
    heading: str,
    original: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    new: dict[str, tuple[str, list[int]]],
) -> EditGroup:
    statements = tuple(
        EditStatement(f"text:{key}:{i}", str(s["text"]), tuple(int(n) for n in original[i].get("citations", [])))
        for i, s in enumerate(shown)
    )
    text, cites = new.get(key, ("", []))
    return EditGroup(key, heading, statements, text, tuple(cites))


def group_keys(answer: dict[str, Any]) -> list[str]:
    return ["bl", *(str(i) for i in range(len(answer.get("sections", []))))]


def form_value(fields: Fields | None, name: str, default: str = "") -> str:
    values = fields.get(name) if fields else None
    return str(values[0]) if values else default


def whole_number(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number, not {value!r}") from None


def citation_numbers(values: Sequence[str]) -> list[int]:
    return [whole_number(v, "a citation") for v in values]


# -- change requests -------------------------------------------------------------------------------------------------

_NOTE = re.compile(r"^\[(?P<key>bl|\d+):(?P<i>\d+)\b[^\]]*\] (?P<note>.+)$")
NOTE_QUOTE = 60  # characters of the statement quoted beside a note, so the audit log reads on its own


def statement_notes(fields: Fields) -> dict[str, str]:
    """Per-statement notes of the request-changes form: "note:bl:0" -> the note, for those filled in."""
    notes = {}
    for name, values in fields.items():
        if name.startswith("note:") and values and str(values[0]).strip():
            notes[name[5:]] = " ".join(str(values[0]).split())
    return notes


def change_comment(comment: str, notes: Mapping[str, str], answer: Mapping[str, Any]) -> str:
    """The change request's comment: the general comment, then one line a note: "[bl:0 «Give oral…»] note"."""
    texts = {key: str(s.get("text", "")) for key, s in _statement_keys(answer)}
    lines = [comment.strip()] if comment.strip() else []
    for key, note in notes.items():
        if key not in texts:
            raise InvalidInput(f"a note names statement {key!r}, which this version does not have")
        quote = texts[key] if len(texts[key]) <= NOTE_QUOTE else texts[key][:NOTE_QUOTE].rstrip() + "…"
        lines.append(f"[{key} «{quote}»] {note}")
    return "\n".join(lines)


def _statement_keys(answer: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    keyed = [(f"bl:{i}", s) for i, s in enumerate(answer.get("bottom_line", []))]
    for j, sec in enumerate(answer.get("sections", [])):
        keyed += [(f"{j}:{i}", s) for i, s in enumerate(sec.get("statements", []))]
    return keyed


def latest_change_request(history: Sequence[AuditEvent]) -> ChangeRequest | None:
    """The latest request for changes, unless an approval or rejection came after it."""
    for event in reversed(history):
        if event.action in ("approve", "reject"):
            return None
        if event.action == "request_changes":
            general, notes = [], {}
            for line in event.comment.splitlines():
                found = _NOTE.match(line)
                if found:
                    notes[f"{found['key']}:{found['i']}"] = found["note"]
                else:
                    general.append(line)
            return ChangeRequest(event.actor, event.at, event.version, "\n".join(general).strip(), notes)
    return None
