"""An article version's answer is checked against the answer model (`AnswerJSON`) before it is stored: what could
not be read back is refused, naming the field, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from bedside.editorial.audit import AuditKey
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Role
from bedside.errors import InvalidInput
from bedside.model import Answer

QUESTION = "How is iron deficiency treated?"
SOURCES = {"doc-1": "hash-1"}


def answer(**changes: Any) -> dict[str, Any]:
    span = {"passage_id": "doc-1#0", "document_id": "doc-1", "start": 0, "end": 15}
    return {
        "question": QUESTION,
        "title": "Iron deficiency",
        "audience": "clinician",
        "bottom_line": [{"text": "Give oral iron.", "citations": [1], "provenance": [span], "kind": "dose"}],
        "sections": [],
        "disclaimer": "For professionals.",
        "references": [
            {
                "number": 1,
                "type": "Guideline",
                "title": "Iron",
                "source": "BSG",
                "year": 2021,
                "url": "",
                "document_id": "doc-1",
            }
        ],
        "meta": {"composer": "extractive", "kb_snapshot": "snap-1"},
        **changes,
    }


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SqlArticleService]:
    with SqlArticleService(
        f"sqlite:///{tmp_path / 'articles.db'}",
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        audit_key=AuditKey(b"k" * 32),
    ) as opened:
        yield opened


def test_a_composed_answer_that_is_not_answer_json_is_refused(service: SqlArticleService) -> None:
    with pytest.raises(InvalidInput, match=r"not a valid answer: bottom_line\.0\.citations\.0: "):
        service.article_for(QUESTION, lambda: answer(bottom_line=[{"text": "x", "citations": ["one"]}]), SOURCES)
    with pytest.raises(InvalidInput, match="not a valid answer: audience: "):
        service.article_for(QUESTION, lambda: answer(audience="vet"), SOURCES)
    assert service.list() == []


def test_an_edit_that_could_not_be_read_back_is_refused(service: SqlArticleService) -> None:
    slug = service.article_for(QUESTION, answer, SOURCES).slug
    editor = service.add_user("eve@example.org", Role.EDITOR, "eve-password-long")[0]
    stored = service.get(slug).latest.answer
    edited = json.loads(json.dumps(stored))
    edited["bottom_line"][0]["text"] = "Give oral iron once daily."
    edited["bottom_line"][0]["provenance"][0]["start"] = "the start"  # a span that names no offset
    with pytest.raises(InvalidInput, match=r"bottom_line\.0\.provenance\.0\.start"):
        service.edit(slug, editor, edited)
    assert len(service.get(slug).versions) == 1
    assert Answer.from_dict(stored).bottom_line[0].kind == "dose"  # what was stored reads back whole
