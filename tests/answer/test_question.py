import pytest

from bedside.answer.question import is_follow_up, plan, question_type
from bedside.model import QuestionType


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the treatment for concurrent iron and vitamin B12 deficiency?", QuestionType.TREATMENT),
        ("Hydroxocobalamin dose for pernicious anaemia", QuestionType.DOSING),
        ("What ferritin threshold confirms iron deficiency?", QuestionType.DIAGNOSIS),
        ("How often should TSH be checked on levothyroxine?", QuestionType.MONITORING),
        ("Is oral iron as effective as intravenous iron in IBD?", QuestionType.YES_NO),
        ("Should metformin be stopped before CT contrast?", QuestionType.YES_NO),
        ("Apixaban versus warfarin in atrial fibrillation: which is safer?", QuestionType.COMPARISON),
        ("What causes pernicious anaemia?", QuestionType.CAUSE),
        ("What is coeliac disease?", QuestionType.DEFINITION),
        ("What is the prognosis of untreated hyponatraemia?", QuestionType.PROGNOSIS),
    ],
)
def test_question_types(question, expected):
    assert question_type(question) is expected


def test_concepts_qualifiers_and_expansions():
    p = plan("What is the treatment of IDA in pregnancy for a woman with CKD?")
    assert p.type is QuestionType.TREATMENT
    assert {"ida", "ckd"} <= set(p.concepts)
    assert "treatment" not in p.concepts
    assert p.qualifiers == ("pregnancy", "renal impairment")
    assert "iron deficiency anaemia" in p.expansions and "chronic kidney disease" in p.expansions


def test_coordinated_conditions_get_one_subquery_each():
    p = plan("What is the treatment for concurrent iron and vitamin B12 deficiency?")
    assert p.subqueries == ("treatment iron deficiency", "treatment vitamin B12 deficiency")
    assert plan("What is the treatment for iron deficiency?").subqueries == ()


def test_follow_up_is_resolved_against_the_previous_question():
    assert is_follow_up("What about in pregnancy?")
    assert not is_follow_up("What is the first-line treatment for community-acquired pneumonia?")
    p = plan("What about in pregnancy?", ["What is the treatment for iron deficiency anaemia?"])
    assert p.type is QuestionType.TREATMENT
    assert p.qualifiers == ("pregnancy",)
    assert p.search_query.startswith("What is the treatment for iron deficiency anaemia?")
    assert {"iron", "pregnanc"} <= set(p.concepts)


def test_a_chain_of_follow_ups_stays_on_the_topic_question():
    previous = ["What is the treatment for iron deficiency anaemia?", "What about in pregnancy?"]
    p = plan("And in children?", previous)
    assert p.search_query == "What is the treatment for iron deficiency anaemia? And in children?"
    assert p.qualifiers == ("children",)
