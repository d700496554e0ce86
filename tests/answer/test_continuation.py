"""A statement keeps the next sentence of its source when that sentence leans on it ("They ...")."""

from bedside.answer.candidates import candidates, continued, terms_of
from bedside.answer.evidence import EvidencePassage
from bedside.answer.extractive import ExtractiveOptions, compose
from bedside.answer.question import plan
from bedside.model import DocumentId, EvidenceType, PassageId

ORGANOIDS = (
    "Organoids are three-dimensional cultures grown from self-organising stem cells. "
    "They reproduce the architecture of the tissue they come from in a dish. "
    "Organoid protocols differ between laboratories in many small ways."
)


def _passage(key: str, text: str, start: int = 40) -> EvidencePassage:
    return EvidencePassage(
        passage_id=PassageId(f"{key}#{start}"),
        document_id=DocumentId(key),
        text=text,
        start=start,
        title=f"Source {key}",
        evidence_type=EvidenceType.REVIEW,
        year=2021,
        source="Journal",
    )


def test_a_leaning_follower_joins_its_sentence_as_one_exact_span():
    p = _passage("org", ORGANOIDS)
    first = candidates([p])[0]
    joined = continued(first)
    assert joined.text == ORGANOIDS[first.a : joined.b]
    assert joined.text.endswith("in a dish.") and joined.text.startswith("Organoids are")
    assert terms_of("They reproduce the architecture of the tissue they come from in a dish.") <= joined.terms


def test_a_follower_that_stands_alone_is_left_alone():
    p = _passage("org", ORGANOIDS)
    second_standalone = next(c for c in candidates([p]) if c.text.startswith("Organoid protocols"))
    assert continued(second_standalone) == second_standalone  # nothing follows
    text = "Organoids are three-dimensional cultures grown from stem cells. Organoid protocols differ a lot."
    first = candidates([_passage("x", text)])[0]
    assert continued(first) == first  # the next sentence does not lean on it


def test_a_join_that_would_run_too_long_is_not_made():
    p = _passage("org", ORGANOIDS)
    first = candidates([p])[0]
    assert continued(first, max_words=12) == first


def test_bottom_line_carries_the_continuation_with_its_span():
    p = _passage("org", ORGANOIDS)
    answer = compose(plan("What are organoids?"), [p], ExtractiveOptions(continue_anaphora="bottom"))
    lead = answer.bottom_line[0]
    assert lead.text.endswith("in a dish.")
    prov = lead.provenance[0]
    assert ORGANOIDS[prov.start - p.start : prov.end - p.start] == lead.text
    plain = compose(plan("What are organoids?"), [p], ExtractiveOptions(continue_anaphora="none"))
    assert plain.bottom_line[0].text.endswith("stem cells.")


def test_a_bullet_merged_from_two_sources_is_never_extended():
    twin = (
        "Organoids are three-dimensional cultures grown from self-organising stem cells. "
        "They are cheaper than animal models for drug screening."
    )
    answer = compose(
        plan("What are organoids?"),
        [_passage("a", ORGANOIDS), _passage("b", twin)],
        ExtractiveOptions(continue_anaphora="all"),
    )
    merged = [s for s in answer.statements() if len(s.provenance) == 2]
    assert merged and all(s.text.endswith("stem cells.") for s in merged)
