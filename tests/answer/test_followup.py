"""A follow-up restated so that it stands on its own, for its article's key, title and trail."""

from bedside.answer.followup import resolved_question

EARLIER = ["What is the treatment for concurrent iron and vitamin B12 deficiency?"]


def test_a_qualifier_follow_up_joins_the_question_it_leans_on() -> None:
    expected = "What is the treatment for concurrent iron and vitamin B12 deficiency in pregnancy?"
    assert resolved_question("What about in pregnancy?", EARLIER) == expected
    assert resolved_question("and  in pregnancy", EARLIER) == expected
    # a chain of follow-ups stays anchored on the topic question
    chain = [*EARLIER, "What about in pregnancy?"]
    assert resolved_question("And in children?", chain) == expected.replace("pregnancy", "children")


def test_other_follow_ups_keep_their_words_and_questions_of_their_own_stay_as_asked() -> None:
    assert resolved_question("What about the elderly?", EARLIER) == (
        "What is the treatment for concurrent iron and vitamin B12 deficiency: the elderly?"
    )
    own = "How is community-acquired pneumonia diagnosed in adults?"
    assert resolved_question(own, EARLIER) == own
    assert resolved_question("What about in pregnancy?", []) == "What about in pregnancy?"
