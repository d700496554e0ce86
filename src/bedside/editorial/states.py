"""The review state machine: a table of allowed (status, action, role) -> status, and `advance`. Pure code.

Errors tell the caller what went wrong in terms the web can map: PermissionDenied (403) when the actor may never
take this action (wrong role, deactivated, their own edit, someone else's claim), Conflict (409) when the role may
take it but not from the article's current status, InvalidInput (422) for an unknown action or a missing comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from bedside.editorial.edits import unsupported_statements
from bedside.editorial.interface import Article, AuditEvent, ReviewStatus, Role, User
from bedside.errors import Conflict, InvalidInput, PermissionDenied

__all__ = [
    "REVIEW_ACTIONS",
    "SYSTEM",
    "TRANSITIONS",
    "Action",
    "Subject",
    "Transition",
    "advance",
    "allowed_actions",
]

MAX_COMMENT = 10_000


class Action(StrEnum):
    """Something a person (or the system) does to an article."""

    CLAIM = "claim"  # a reviewer takes a submitted article
    RELEASE = "release"  # the claimer (or an admin) hands it back unreviewed
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    EDIT = "edit"  # an editor saves a new version
    REGENERATE = "regenerate"  # a new version composed from the current knowledge base


REVIEW_ACTIONS = (Action.CLAIM, Action.RELEASE, Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT)
NEEDS_COMMENT = {Action.REQUEST_CHANGES: "a comment saying what to change", Action.REJECT: "a reason"}
CLAIMER_ONLY = {Action.RELEASE, Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT}

# "system" acts for regeneration the knowledge base triggers; it has an editor's rights, nothing more.
SYSTEM = User(id=0, email="system", role=Role.EDITOR)

_S = ReviewStatus
_REVIEWERS = (Role.REVIEWER, Role.ADMIN)
_EDITORS = (Role.EDITOR, Role.ADMIN)
# Never while someone reviews it. A rejected article may be rewritten (or composed again): the new version goes back
# to review, and nothing of it is public until approved.
_EDITABLE = (_S.SUBMITTED, _S.CHANGES_REQUESTED, _S.APPROVED, _S.REJECTED)


def _rows(
    sources: Iterable[ReviewStatus], action: Action, roles: Iterable[Role], target: ReviewStatus
) -> dict[tuple[ReviewStatus, Action, Role], ReviewStatus]:
    roles = tuple(roles)
    return {(status, action, role): target for status in sources for role in roles}


TRANSITIONS: Mapping[tuple[ReviewStatus, Action, Role], ReviewStatus] = {
    **_rows([_S.SUBMITTED], Action.CLAIM, _REVIEWERS, _S.UNDER_REVIEW),
    **_rows([_S.UNDER_REVIEW], Action.RELEASE, _REVIEWERS, _S.SUBMITTED),
    **_rows([_S.UNDER_REVIEW], Action.APPROVE, _REVIEWERS, _S.APPROVED),
    **_rows([_S.UNDER_REVIEW], Action.REQUEST_CHANGES, _REVIEWERS, _S.CHANGES_REQUESTED),
    **_rows([_S.UNDER_REVIEW], Action.REJECT, _REVIEWERS, _S.REJECTED),
    **_rows(_EDITABLE, Action.EDIT, _EDITORS, _S.SUBMITTED),
    **_rows(_EDITABLE, Action.REGENERATE, _EDITORS, _S.SUBMITTED),
}

_ROLES_FOR = {a: frozenset(role for (_s, act, role) in TRANSITIONS if act is a) for a in Action}
_FROM = {a: tuple(dict.fromkeys(s for (s, act, _r) in TRANSITIONS if act is a)) for a in Action}
_LABELS = {
    _S.SUBMITTED: "submitted",
    _S.UNDER_REVIEW: "under review",
    _S.CHANGES_REQUESTED: "waiting for changes",
    _S.APPROVED: "approved",
    _S.REJECTED: "rejected",
}


@dataclass(frozen=True, slots=True)
class Subject:
    """What the state machine needs to know about an article."""

    status: ReviewStatus
    version: int  # the latest version's number
    version_author: str = "system"  # who made the latest version
    claimed_by: str = ""
    authors: frozenset[str] = frozenset()  # who made any version since the last approved one (the latest's too)
    unsupported: int = 0  # the latest version's editor statements that the verifier did not find in their sources

    @classmethod
    def of(cls, article: Article) -> Subject:
        """The subject view of a stored article."""
        latest = article.latest
        since = frozenset(v.created_by for v in article.versions if v.number > article.approved_version)
        unsupported = len(unsupported_statements(latest.answer))
        return cls(article.status, latest.number, latest.created_by, article.claimed_by, since, unsupported)


class Transition(NamedTuple):
    """A permitted step: the status it leads to and the audit record that documents it."""

    status: ReviewStatus
    event: AuditEvent


def advance(
    subject: Subject, action: Action | str, by: User, at: str, comment: str = "", *, override: bool = False
) -> Transition:
    """Take `action` on the article as `by` at time `at`, or raise without changing anything.

    Approving a version with editor statements the verifier did not find in their sources needs `override` and a
    comment giving the reason; the audit record then says so. Raises InvalidInput (unknown action, missing or
    overlong comment, unsupported statements without the override), PermissionDenied, or Conflict.
    """
    step = _parse(action)
    _check_actor(step, by)
    target = TRANSITIONS.get((subject.status, step, by.role))
    if target is None:
        raise Conflict(_conflict_message(subject, step))
    _check_relation(subject, step, by)
    comment = _check_comment(step, comment)
    if step is Action.APPROVE and subject.unsupported:
        comment = _override(subject.unsupported, override, comment)
    number = subject.version + 1 if step in (Action.EDIT, Action.REGENERATE) else subject.version
    event = AuditEvent(at, by.email, step.value, subject.status.value, target.value, number, comment)
    return Transition(target, event)


def allowed_actions(subject: Subject, by: User) -> list[Action]:
    """The actions `by` may take now (for showing buttons); comments are not checked."""
    found = []
    for step in Action:
        try:
            _check_actor(step, by)
            if (subject.status, step, by.role) in TRANSITIONS:
                _check_relation(subject, step, by)
                found.append(step)
        except PermissionDenied:
            continue
    return found


def _parse(action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        expected = ", ".join(a.value for a in Action)
        raise InvalidInput(f"unknown action {action!r} (expected one of: {expected})") from None


def _check_actor(step: Action, by: User) -> None:
    if not by.active:
        raise PermissionDenied(f"{by.email} is deactivated and may not {_verb(step)} articles")
    roles = _ROLES_FOR[step]
    if by.role not in roles:
        needed = " or ".join(sorted(r.value for r in roles))
        article = "an" if by.role.value[0] in "aeiou" else "a"
        raise PermissionDenied(f"{article} {by.role.value} may not {_verb(step)} articles (needs the {needed} role)")


def _check_relation(subject: Subject, step: Action, by: User) -> None:
    others_claim = subject.claimed_by and subject.claimed_by != by.email
    if step in CLAIMER_ONLY and others_claim and by.role is not Role.ADMIN:
        raise PermissionDenied(
            f"this article is claimed by {subject.claimed_by}; only they or an admin may {_verb(step)} it"
        )
    if step is Action.APPROVE and subject.version_author == by.email:
        raise PermissionDenied(f"you made version {subject.version}; another reviewer must approve it")
    if step is Action.APPROVE and by.email in subject.authors:
        raise PermissionDenied("you made a version since the last approval; another reviewer must approve the changes")


def _check_comment(step: Action, comment: str) -> str:
    comment = comment.strip()
    if step in NEEDS_COMMENT and not comment:
        raise InvalidInput(f"{_verb(step)} needs {NEEDS_COMMENT[step]}")
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"comment is too long ({len(comment)} characters; at most {MAX_COMMENT})")
    return comment


OVERRIDE = "override"


def _override(unsupported: int, override: bool, comment: str) -> str:
    """The approval's audit comment when it overrides the verifier, or InvalidInput saying what is needed."""
    what = (
        f"{unsupported} editor statement{'s' if unsupported > 1 else ''} that bedside's check did not find in "
        + ("their" if unsupported > 1 else "its")
        + " cited sources"
    )
    if not override:
        raise InvalidInput(f"this version has {what}: approve with the override, giving your reason")
    if not comment:
        raise InvalidInput(f"approving {what} needs a reason for the override")
    return f"{OVERRIDE}: approved with {what}. {comment}"


def _conflict_message(subject: Subject, step: Action) -> str:
    now = _LABELS[subject.status]
    if subject.status is _S.UNDER_REVIEW and subject.claimed_by:
        now += f" (claimed by {subject.claimed_by})"
    allowed = " or ".join(_LABELS[s] for s in _FROM[step])
    return f"cannot {_verb(step)} an article that is {now}; only one that is {allowed}"


def _verb(step: Action) -> str:
    return step.value.replace("_", " ")
