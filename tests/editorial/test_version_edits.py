"""Editors change statements, never sources, and never leave a statement uncited."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bedside.editorial.edits import apply_edit
from bedside.errors import InvalidInput


def base() -> dict[str, Any]:
    ref = {
        "number": 1,
        "type": "Guideline",
        "title": "Iron",
        "source": "BSG",
        "year": 2021,
        "url": "",
        "document_id": "a",
    }
    return {
        "question": "q",
        "title": "Iron",
        "audience": "clinician",
        "slug": "s",
        "disclaimer": "d",
        "bottom_line": [{"text": "Oral iron first.", "citations": [1], "provenance": []}],
        "sections": [{"heading": "Treatment", "statements": [{"text": "Daily dosing.", "citations": [1, 2]}]}],
        "references": [ref, {**ref, "number": 2, "title": "Anaemia", "document_id": "b"}],
        "meta": {"composer": "extractive", "kb_snapshot": "k"},
    }


def test_statements_change_and_everything_else_stays() -> None:
    edited = copy.deepcopy(base())
    edited["bottom_line"][0]["text"] = "  Oral iron 65 mg once daily first. "
    edited["question"] = "something else"
    edited["meta"] = {"composer": "forged"}
    result = apply_edit(base(), edited)
    assert result["bottom_line"][0] == {
        "text": "Oral iron 65 mg once daily first.",
        "citations": [1],
        "provenance": [],
        "editor": True,
        "supported": False,
        "check": "not checked against its sources",
    }
    assert (
        result["question"] == "q" and result["meta"] == base()["meta"] and result["references"] == base()["references"]
    )
    assert result["sections"][0]["statements"][0]["citations"] == [1, 2]


def test_statements_may_be_removed_and_references_dropped() -> None:
    edited = copy.deepcopy(base())
    edited["sections"] = []
    edited["references"] = edited["references"][:1]
    result = apply_edit(base(), edited)
    assert result["sections"] == [] and [r["document_id"] for r in result["references"]] == ["a"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a["bottom_line"].append({"text": "New claim.", "citations": []}), "needs at least one citation"),
        (lambda a: a["bottom_line"].append({"text": "New claim."}), "needs at least one citation"),
        (lambda a: a["bottom_line"].append({"text": "New claim.", "citations": ["1"]}), "needs at least one citation"),
        (lambda a: a["bottom_line"].append({"text": "New claim.", "citations": [7]}), r"cites \[7\]"),
        (lambda a: a["bottom_line"].append({"text": " ", "citations": [1]}), "text must be"),
        (lambda a: a["bottom_line"].append("New claim [1]"), "must be an object"),
        (lambda a: a["references"].append({"number": 3, "document_id": "made-up"}), "not add sources"),
        (lambda a: a["references"].append({"number": 1, "document_id": "b"}), "must be unique"),
        (lambda a: a["references"].append({"document_id": "b"}), "integer 'number'"),
        (lambda a: a.update(references={}), "references must be a list"),
        (lambda a: a.update(sections="x"), "sections must be a list"),
        (lambda a: a["sections"].append({"statements": []}), "section 2 needs a heading"),
        (lambda a: a.update(bottom_line=[], sections=[]), "at least one statement"),
        (lambda a: a.update(title=""), "title must be"),
        (lambda a: a["bottom_line"][0].update(provenance="x"), "provenance must be a list"),
    ],
)
def test_refused_edits_say_what_is_wrong(change: Any, message: str) -> None:
    edited = copy.deepcopy(base())
    change(edited)
    with pytest.raises(InvalidInput, match=message):
        apply_edit(base(), edited)


def test_the_edit_must_be_an_object() -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        apply_edit(base(), ["not", "an", "answer"])
