"""`Bedside.ask` and `bedside ask` end to end on the starter knowledge base."""

import json
import re
from collections import Counter
from datetime import date

import pytest
from click.testing import CliRunner

from bedside.cli import main
from bedside.errors import InvalidInput, NotFound

FLAGSHIP = "What is the treatment for concurrent iron and vitamin B12 deficiency?"
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def test_flagship_question(starter):
    answer = starter.ask(FLAGSHIP, today=date(2026, 11, 21))
    data = answer.to_dict()
    assert set(data) >= {
        "question",
        "title",
        "audience",
        "status",
        "updated",
        "conversation",
        "slug",
        "insufficient_evidence",
        "bottom_line",
        "sections",
        "references",
        "disclaimer",
        "meta",
    }
    assert data["title"] == "Treatment of Concurrent Iron and Vitamin B12 Deficiency"
    assert data["status"] == "submitted" and data["updated"] == "2026-11-21"
    assert data["conversation"].startswith("c-") and data["slug"].startswith("what-is-the-treatment-for-concurrent")
    assert not data["insufficient_evidence"] and data["bottom_line"]
    assert 3 <= len(data["sections"]) <= 7
    assert data["sections"][0]["heading"] == "Critical warnings"
    assert data["meta"]["composer"] == "extractive" and data["meta"]["dropped_statements"] == 0
    cited_docs = set()
    for st in data["bottom_line"] + [s for sec in data["sections"] for s in sec["statements"]]:
        assert st["citations"] and st["provenance"]
        for n, prov in zip(st["citations"], st["provenance"], strict=False):
            ref = data["references"][n - 1]
            assert ref["number"] == n
            cited_docs.add(prov["document_id"])
            # the exact source: the document's stored text at the span is the statement (case of 1st letter aside)
            source = starter.store.document(prov["document_id"]).text[prov["start"] : prov["end"]]
            assert source[1:] == st["text"][1:] or prov is not st["provenance"][0]
    assert len(cited_docs) >= 3, "a multi-source answer"
    for ref in data["references"]:
        assert ref["type"] == "Guideline"
        assert ref["url"].startswith("https://") and ref["year"]
        assert "digest" not in ref["title"].lower()  # the guideline itself is cited, not the digest file
    text = json.dumps(data)
    assert "hydroxocobalamin" in text.lower() and "folic acid" in text.lower()


def test_citation_precision_is_total(starter):
    """Every extractive statement is contained in the passage it cites."""
    for q in (FLAGSHIP, "How is hyperkalaemia treated?", "What is the first-line treatment for gout flares?"):
        answer = starter.ask(q)
        for st in answer.statements():
            prov = st.provenance[0]
            passage = starter.store.passages([prov.passage_id])[prov.passage_id]
            assert st.text[1:] in passage.text


def test_off_topic_question_says_so_and_states_nothing(starter):
    answer = starter.ask("How do I replace the chain on a mountain bike?")
    assert answer.insufficient_evidence
    assert answer.statements() == ()
    assert answer.searched == ("How do I replace the chain on a mountain bike?",)


def test_follow_up_keeps_the_conversation(starter):
    first = starter.ask("What is the treatment for iron deficiency anaemia?")
    follow = starter.ask("What about in pregnancy?", conversation=first.conversation)
    assert follow.conversation == first.conversation
    assert follow.searched[0].startswith("What is the treatment for iron deficiency anaemia?")
    cited = {r.document_id for r in follow.references}
    assert "iron-deficiency-pregnancy" in cited
    turns = starter.conversations.turns(first.conversation)
    assert [t["question"] for t in turns] == [first.question, follow.question]
    with pytest.raises(NotFound):
        starter.ask("And in children?", conversation="c-unknown")


def test_audiences_keep_numbers_and_citations(starter):
    """The patient version is a plainer selection of the clinician's statements: each one it keeps has the same
    numbers and citations as the clinician's statement from the same source span, and it reads shorter."""
    from bedside.answer.audience import answer_texts
    from bedside.answer.readability import reading_grade

    clinician = starter.ask(FLAGSHIP, audience="clinician")
    patient = starter.ask(FLAGSHIP, audience="patient")
    student = starter.ask(FLAGSHIP, audience="student")
    assert patient.audience == "patient" and patient.bottom_line
    source = {s.provenance: s for s in clinician.statements()}
    for s in patient.statements():
        assert s.provenance in source, "the patient version states nothing the clinician version does not"
        assert Counter(NUMBER.findall(source[s.provenance].text)) - Counter(NUMBER.findall(s.text)) == Counter()
        assert s.citations == source[s.provenance].citations
    assert [s.citations for s in clinician.statements()] == [s.citations for s in student.statements()]
    assert len(" ".join(answer_texts(patient)).split()) < len(" ".join(answer_texts(clinician)).split())
    assert reading_grade(answer_texts(patient)) < reading_grade(answer_texts(clinician))


@pytest.mark.parametrize(
    ("question", "audience", "message"),
    [
        ("", "clinician", "question is empty"),
        ("x" * 5000, "clinician", "too long"),
        (FLAGSHIP, "nurse", "unknown audience"),
    ],
)
def test_bad_input_is_refused_clearly(starter, question, audience, message):
    with pytest.raises(InvalidInput, match=message):
        starter.ask(question, audience=audience)


def test_given_evidence_is_used_without_retrieval(starter):
    evidence = [
        {
            "id": "e1",
            "title": "Trial A",
            "text": "Give ferric carboxymaltose 1000 mg intravenously as a single infusion for iron deficiency.",
        },
        {
            "id": "e2",
            "title": "Trial B",
            "text": "Oral ferrous sulfate 200 mg daily corrects iron deficiency in most adults.",
        },
    ]
    answer = starter.ask("What is the treatment for iron deficiency?", evidence=evidence)
    assert {r.document_id for r in answer.references} <= {"e1", "e2"}
    assert all(r.type.label == "Research" for r in answer.references)
    with pytest.raises(InvalidInput, match=r"evidence\[0\]"):
        starter.ask("What is the treatment for iron deficiency?", evidence=[{"text": "no id"}])


def test_cli_ask_json_markdown_and_text(starter, monkeypatch):
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(starter.data_dir))
    runner = CliRunner()
    result = runner.invoke(main, ["ask", FLAGSHIP, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["references"] and data["bottom_line"]
    result = runner.invoke(main, ["ask", FLAGSHIP, "--markdown"], catch_exceptions=False)
    assert result.output.startswith("# Treatment of Concurrent Iron and Vitamin B12 Deficiency")
    assert "## References" in result.output and "pending human review" in result.output
    result = runner.invoke(main, ["ask", FLAGSHIP], catch_exceptions=False)
    assert "Critical warnings" in result.output and "References" in result.output
    result = runner.invoke(main, ["ask", FLAGSHIP, "--conversation", "c-nope"], catch_exceptions=False)
    assert result.exit_code == 1 and "no conversation with id 'c-nope'" in result.output
