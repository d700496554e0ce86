"""The review state machine, without a database: every (status, action, role) either advances or is refused."""

from __future__ import annotations

import itertools

import pytest

from bedside.editorial.interface import ReviewStatus, Role, User
from bedside.editorial.states import (
    SYSTEM,
    TRANSITIONS,
    Action,
    Subject,
    advance,
    allowed_actions,
)
from bedside.errors import Conflict, InvalidInput, PermissionDenied, TransitionError

AT = "2026-11-21T10:00:00+00:00"
S, A, R = ReviewStatus, Action, Role
COMMENT = {A.REQUEST_CHANGES: "Cite the dose.", A.REJECT: "Off-label."}

EXPECTED = {
    (S.SUBMITTED, A.CLAIM): ({R.REVIEWER, R.ADMIN}, S.UNDER_REVIEW),
    (S.UNDER_REVIEW, A.RELEASE): ({R.REVIEWER, R.ADMIN}, S.SUBMITTED),
    (S.UNDER_REVIEW, A.APPROVE): ({R.REVIEWER, R.ADMIN}, S.APPROVED),
    (S.UNDER_REVIEW, A.REQUEST_CHANGES): ({R.REVIEWER, R.ADMIN}, S.CHANGES_REQUESTED),
    (S.UNDER_REVIEW, A.REJECT): ({R.REVIEWER, R.ADMIN}, S.REJECTED),
    **{
        (s, A.EDIT): ({R.EDITOR, R.ADMIN}, S.SUBMITTED)
        for s in (S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED, S.REJECTED)
    },
    **{
        (s, A.REGENERATE): ({R.EDITOR, R.ADMIN}, S.SUBMITTED)
        for s in (S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED, S.REJECTED)
    },
}
ROLES_FOR = {
    a: {R.REVIEWER, R.ADMIN}
    if a in (A.CLAIM, A.RELEASE, A.APPROVE, A.REQUEST_CHANGES, A.REJECT)
    else {R.EDITOR, R.ADMIN}
    for a in Action
}


def person(role: Role, email: str = "", active: bool = True) -> User:
    return User(id=1, email=email or f"{role.value}@example.org", role=role, active=active)


def subject(status: ReviewStatus, claimed_by: str = "", author: str = "system") -> Subject:
    if status is S.UNDER_REVIEW and not claimed_by:
        claimed_by = "reviewer@example.org"
    return Subject(status=status, version=3, version_author=author, claimed_by=claimed_by)


def test_the_table_is_exactly_the_documented_workflow() -> None:
    expected = {(s, a, r): target for (s, a), (roles, target) in EXPECTED.items() for r in roles}
    assert dict(TRANSITIONS) == expected


@pytest.mark.parametrize(("status", "action", "role"), list(itertools.product(ReviewStatus, Action, Role)))
def test_every_combination_advances_or_is_refused_with_the_right_error(
    status: ReviewStatus, action: Action, role: Role
) -> None:
    by = person(role, "reviewer@example.org" if role is R.REVIEWER else "")
    comment = COMMENT.get(action, "")
    if role not in ROLES_FOR[action]:
        with pytest.raises(PermissionDenied, match=f"an? {role.value} may not"):
            advance(subject(status), action, by, AT, comment)
    elif (status, action) not in EXPECTED:
        with pytest.raises(Conflict, match=r"cannot .* an article that is"):
            advance(subject(status), action, by, AT, comment)
    else:
        step = advance(subject(status), action, by, AT, comment)
        assert step.status is EXPECTED[(status, action)][1]
        version = 4 if action in (A.EDIT, A.REGENERATE) else 3
        assert (step.event.action, step.event.from_status, step.event.to_status) == (action, status, step.status)
        assert (step.event.actor, step.event.at, step.event.version, step.event.comment) == (
            by.email,
            AT,
            version,
            comment,
        )


def test_both_refusals_are_transition_errors_for_callers_that_do_not_care_which() -> None:
    assert issubclass(PermissionDenied, TransitionError) and issubclass(Conflict, TransitionError)


def test_conflict_messages_say_where_the_article_is_and_where_it_must_be() -> None:
    with pytest.raises(Conflict) as info:
        advance(subject(S.SUBMITTED), A.APPROVE, person(R.REVIEWER), AT)
    assert str(info.value) == "cannot approve an article that is submitted; only one that is under review"
    with pytest.raises(Conflict, match=r"under review \(claimed by ann@example.org\)"):
        advance(subject(S.UNDER_REVIEW, "ann@example.org"), A.CLAIM, person(R.REVIEWER), AT)
    with pytest.raises(
        Conflict,
        match=r"under review \(claimed by .*\); only one that is submitted or waiting for "
        "changes or approved or rejected",
    ):
        advance(subject(S.UNDER_REVIEW), A.EDIT, person(R.EDITOR), AT)


def test_role_refusals_name_the_role_needed() -> None:
    with pytest.raises(PermissionDenied) as info:
        advance(subject(S.SUBMITTED), A.CLAIM, person(R.EDITOR), AT)
    assert str(info.value) == "an editor may not claim articles (needs the admin or reviewer role)"


@pytest.mark.parametrize("action", [A.RELEASE, A.APPROVE, A.REQUEST_CHANGES, A.REJECT])
def test_only_the_claimer_or_an_admin_acts_on_a_claimed_article(action: Action) -> None:
    claimed = subject(S.UNDER_REVIEW, "ann@example.org")
    comment = COMMENT.get(action, "")
    with pytest.raises(PermissionDenied, match=r"claimed by ann@example\.org; only they or an admin"):
        advance(claimed, action, person(R.REVIEWER, "bob@example.org"), AT, comment)
    assert advance(claimed, action, person(R.REVIEWER, "ann@example.org"), AT, comment).event.actor == "ann@example.org"
    assert advance(claimed, action, person(R.ADMIN), AT, comment).status is EXPECTED[(S.UNDER_REVIEW, action)][1]


@pytest.mark.parametrize("role", [R.REVIEWER, R.ADMIN])
def test_nobody_approves_a_version_they_made(role: Role) -> None:
    me = person(role, "ann@example.org")
    own = Subject(S.UNDER_REVIEW, version=2, version_author="ann@example.org", claimed_by="ann@example.org")
    with pytest.raises(PermissionDenied, match="you made version 2; another reviewer must approve it"):
        advance(own, A.APPROVE, me, AT)
    assert advance(own, A.REQUEST_CHANGES, me, AT, "x").status is S.CHANGES_REQUESTED  # but may send it back


@pytest.mark.parametrize("action", list(Action))
def test_a_deactivated_account_may_do_nothing(action: Action) -> None:
    for role in Role:
        with pytest.raises(PermissionDenied, match="is deactivated"):
            advance(subject(S.SUBMITTED), action, person(role, active=False), AT, "comment")


@pytest.mark.parametrize(
    ("action", "needs"), [(A.REQUEST_CHANGES, "a comment saying what to change"), (A.REJECT, "a reason")]
)
def test_request_changes_and_reject_need_a_comment(action: Action, needs: str) -> None:
    by = person(R.REVIEWER, "reviewer@example.org")
    for blank in ("", "   \n"):
        with pytest.raises(InvalidInput, match=needs):
            advance(subject(S.UNDER_REVIEW), action, by, AT, blank)
    assert advance(subject(S.UNDER_REVIEW), action, by, AT, "  why \n").event.comment == "why"


def test_comments_have_a_length_limit() -> None:
    with pytest.raises(InvalidInput, match="too long"):
        advance(subject(S.SUBMITTED), A.CLAIM, person(R.REVIEWER), AT, "x" * 10_001)


def test_unknown_actions_are_invalid_input_not_transition_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown action 'publish'"):
        advance(subject(S.SUBMITTED), "publish", person(R.ADMIN), AT)
    assert advance(subject(S.SUBMITTED), "claim", person(R.ADMIN), AT).status is S.UNDER_REVIEW


def test_the_system_may_regenerate_but_not_review() -> None:
    assert advance(subject(S.APPROVED), A.REGENERATE, SYSTEM, AT).event.actor == "system"
    with pytest.raises(PermissionDenied):
        advance(subject(S.SUBMITTED), A.CLAIM, SYSTEM, AT)


def test_allowed_actions_lists_what_may_be_done_now() -> None:
    ann = person(R.REVIEWER, "ann@example.org")
    assert allowed_actions(subject(S.SUBMITTED), ann) == [A.CLAIM]
    assert allowed_actions(subject(S.UNDER_REVIEW, "ann@example.org"), ann) == [
        A.RELEASE,
        A.APPROVE,
        A.REQUEST_CHANGES,
        A.REJECT,
    ]
    assert allowed_actions(subject(S.UNDER_REVIEW, "bob@example.org"), ann) == []
    assert allowed_actions(subject(S.APPROVED), person(R.EDITOR)) == [A.EDIT, A.REGENERATE]
    assert allowed_actions(subject(S.REJECTED), person(R.ADMIN)) == [A.EDIT, A.REGENERATE]  # back to review
    assert allowed_actions(subject(S.REJECTED), person(R.REVIEWER)) == []
    assert allowed_actions(subject(S.SUBMITTED), person(R.REVIEWER, active=False)) == []


def test_subject_of_an_article_reads_its_latest_version() -> None:
    from bedside.editorial.interface import Article, ArticleVersion

    def version(n: int, by: str) -> ArticleVersion:
        return ArticleVersion(n, {}, AT, by, "extractive", "snap", "0.1.0")

    article = Article("s", "q", S.UNDER_REVIEW, (version(1, "system"), version(2, "ed@x.org")), AT, AT, "ann@x.org")
    authors = frozenset({"system", "ed@x.org"})  # every author since the last approval (none yet)
    assert Subject.of(article) == Subject(S.UNDER_REVIEW, 2, "ed@x.org", "ann@x.org", authors)
    approved = Article("s", "q", S.UNDER_REVIEW, article.versions, AT, AT, "ann@x.org", approved_version=1)
    assert Subject.of(approved).authors == frozenset({"ed@x.org"})
