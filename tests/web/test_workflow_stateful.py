"""The review workflow under random use: Hypothesis drives random people x actions through the real app (the review
API with bearer tokens, the admin page with a session and CSRF token) over the SQL article service, and a small
reference model written from the documented rules says what each step must do.

After every step the app's articles (status, version, its author, claimer, approved version and approver, audit
trail length) and accounts equal the model's; a refused step answers the model's error status and leaves every
article exactly as it was.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from editorial_support import PASSWORD, STAFF, Editorial, ask_api, csrf_of, sign_in
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from bedside.editorial.edits import unsupported_statements
from bedside.editorial.interface import Article

ARTICLES = 2
# who -> role; the first four are the editorial fixture's staff, the others are added here
PEOPLE = {
    "ada@example.org": "admin",
    "alan@example.org": "admin",
    "rita@example.org": "reviewer",
    "rob@example.org": "reviewer",
    "eddie@example.org": "editor",
    "edna@example.org": "editor",
}
ADMINS = [who for who, role in PEOPLE.items() if role == "admin"]
# besides anyone by name: whoever holds the article's claim or made its latest version, to reach the ownership rules
ACTORS = st.sampled_from([*sorted(PEOPLE), "the claimer", "the author", "the claimer", "the author"])
# the steps, weighted towards those that move an article forward (an edit sends it back to submitted)
KINDS = st.sampled_from(
    [
        "claim",
        "claim",
        "claim",
        "release",
        "approve",
        "approve",
        "approve",
        "request_changes",
        "reject",
        "edit",
        "edit",
        "deactivate",
        "activate",
    ]
)
SETTINGS = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True, slots=True)
class Model:
    """The reference model of one article."""

    status: str = "submitted"
    version: int = 1
    author: str = "system"  # who made the latest version
    claimed_by: str = ""
    approved_version: int = 0
    approved_by: str = ""
    events: int = 1  # the audit trail: "compose" first
    unsupported: bool = False  # the latest version has editor words no source states (every edit here does)
    authors: frozenset[str] = frozenset()  # everyone who made a version since the last approval (four eyes;
    # the app shows it only through the approvals it refuses)


def review_outcome(m: Model, who: str, role: str, active: bool, step: str, comment: str) -> tuple[int, Model]:
    """The status a review step answers and the article after it, from the rules in the order documented: a
    disabled token (401), a role that may never take the step (403), a step not open from the status (409), a
    claim held by someone else or a version the person made since the last approval (403), a missing comment
    (422)."""
    if not active:
        return 401, m
    if role not in ("reviewer", "admin"):
        return 403, m
    if m.status != ("submitted" if step == "claim" else "under_review"):
        return 409, m
    if step != "claim" and m.claimed_by not in ("", who) and role != "admin":
        return 403, m
    if step == "approve" and who in m.authors | {m.author}:
        return 403, m
    if step in ("request_changes", "reject") and not comment.strip():
        return 422, m
    if step == "approve" and m.unsupported and not comment.strip():  # the override needs a reason
        return 422, m
    m = replace(m, events=m.events + 1, claimed_by="")
    if step == "claim":
        return 200, replace(m, status="under_review", claimed_by=who)
    if step == "approve":
        return 200, replace(m, status="approved", approved_version=m.version, approved_by=who, authors=frozenset())
    target = {"release": "submitted", "request_changes": "changes_requested", "reject": "rejected"}[step]
    return 200, replace(m, status=target)


def edit_outcome(m: Model, who: str, role: str, active: bool, base: int | None) -> tuple[int, Model]:
    """An editor's new version: only editors and admins, never while under review (a rejected one goes back to
    review), and only on
    top of the latest version when the editor says which one they started from."""
    if not active:
        return 401, m
    if role not in ("editor", "admin"):
        return 403, m
    if m.status not in ("submitted", "changes_requested", "approved", "rejected"):
        return 409, m
    if base is not None and base != m.version:
        return 409, m
    return 201, replace(
        m,
        status="submitted",
        version=m.version + 1,
        author=who,
        authors=m.authors | {who},
        claimed_by="",
        events=m.events + 1,
        unsupported=True,
    )


class Workflow(RuleBasedStateMachine):
    """Random people acting on a few fresh articles; `editorial`, `answer` and `clients` are set by the test."""

    editorial: ClassVar[Editorial]
    answer: ClassVar[tuple[dict[str, Any], dict[str, str]]]
    clients: ClassVar[dict[str, TestClient]]  # each person's API client, with their bearer token
    serial: ClassVar[Iterator[int]] = itertools.count(1)
    steps: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.service = self.editorial.articles
        self.slugs: list[str] = []
        self.models: list[Model] = []
        self.active = dict.fromkeys(PEOPLE, True)
        self.admin_pages: dict[str, tuple[TestClient, str]] = {}
        self.seen: list[tuple[Article, int]] = []  # every article and its audit trail length, after the last step
        self.refused = False  # the last step was refused: nothing may have changed

    @initialize()
    def fresh_articles(self) -> None:
        """New articles each run; every account active again, each admin with a new session."""
        answer, sources = self.answer
        for who in PEOPLE:
            if not self.service.get_user(who).active:
                self._reactivate(who)
        for n in range(ARTICLES):
            question = f"Workflow run {next(self.serial)}, article {n}: which dose is safe?"
            self.slugs.append(self.service.article_for(question, lambda: copy.deepcopy(answer), sources).slug)
            self.models.append(Model())
        self.admin_pages = {who: self.signed_in(who) for who in ADMINS}
        self.seen = self.snapshot()

    def _reactivate(self, who: str) -> None:
        """Active again, with a new API token: deactivating deleted the old ones, and re-activating revives none."""
        self.service.set_active(who, True)
        self.clients[who].headers["Authorization"] = f"Bearer {self.service.issue_token(who)}"

    def signed_in(self, who: str) -> tuple[TestClient, str]:
        """A new session for `who` and its CSRF token."""
        client = TestClient(self.editorial.app, follow_redirects=False)
        assert sign_in(client, who).status_code == 303
        return client, csrf_of(client.get("/policy").text)  # the sign-out form in every page's header

    def person(self, choice: str, i: int) -> str:
        """The person `choice` names for article i (the claimer or author when it has one, else the first admin)."""
        model = self.models[i]
        found = {"the claimer": model.claimed_by, "the author": model.author}.get(choice, choice)
        return found if found in PEOPLE else ADMINS[0]

    def snapshot(self) -> list[tuple[Article, int]]:
        return [(self.service.get(slug), len(self.service.history(slug))) for slug in self.slugs]

    def answered(self, code: int, expected: int, body: str) -> None:
        assert code == expected, body
        self.refused = code >= 300  # the invariant checks that a refused step changed nothing
        type(self).steps += 1

    @rule(
        kind=KINDS,
        i=st.integers(0, ARTICLES - 1),
        who=ACTORS,
        admin=st.sampled_from(ADMINS),
        comment=st.sampled_from(["", "  ", "Cite the guideline for the dose.", "Say which dose."]),
        base=st.sampled_from(["latest", "older", "none"]),
    )
    def act(self, kind: str, i: int, who: str, admin: str, comment: str, base: str) -> None:
        """One step: a review action, an edit, or an admin deactivating or re-activating someone."""
        who = self.person(who, i)
        if kind == "edit":
            self.edit(i, who, base)
        elif kind in ("deactivate", "activate"):
            self.set_active(admin, who, kind == "activate")
        else:
            self.review(i, who, kind, comment)

    def review(self, i: int, who: str, step: str, comment: str) -> None:
        expected, after = review_outcome(self.models[i], who, PEOPLE[who], self.active[who], step, comment)
        body = {  # approving an unsupported edit needs a reason
            "action": step,
            "comment": comment,
            "version": self.seen[i][0].latest.number,
            "override": True,
        }
        r = self.clients[who].post(f"/api/articles/{self.slugs[i]}/review", json=body)
        self.answered(r.status_code, expected, r.text)
        if expected == 200:
            assert (r.json()["status"], r.json()["claimed_by"]) == (after.status, after.claimed_by)
        self.models[i] = after

    def edit(self, i: int, who: str, base: str) -> None:
        current = self.seen[i][0].latest
        number = {"latest": current.number, "older": current.number - 1, "none": None}[base]
        if number == 0:
            number = None
        expected, after = edit_outcome(self.models[i], who, PEOPLE[who], self.active[who], number)
        body = copy.deepcopy(current.answer)
        body["bottom_line"][0]["text"] = f"Reworded by {who} after version {current.number}."
        if number is not None:
            body["base"] = number
        r = self.clients[who].post(f"/api/articles/{self.slugs[i]}/versions", json=body)
        self.answered(r.status_code, expected, r.text)
        if expected == 201:
            assert r.json()["version"] == after.version
        self.models[i] = after

    def set_active(self, admin: str, who: str, active: bool) -> None:
        """Through the admin page: a deactivated admin's session is gone (sign in again: 303 to /login); an admin
        may not deactivate themselves (409)."""
        if not self.active[admin]:
            expected = 303
        elif not active and who == admin:
            expected = 409
        else:
            expected = 200
        client, csrf = self.admin_pages[admin]
        data = {"email": who, "active": "1" if active else "0", "csrf": csrf}
        r = client.post("/admin/users/active", data=data)
        self.answered(r.status_code, expected, r.text[:300])
        if expected == 303:
            assert r.headers["location"].startswith("/login")
        if expected == 200:
            if active and not self.active[who]:
                self.clients[who].headers["Authorization"] = f"Bearer {self.service.issue_token(who)}"
            self.active[who] = active
            if active and who in ADMINS and who != admin:  # their session ended when they were deactivated
                self.admin_pages[who] = self.signed_in(who)

    @invariant()
    def app_equals_model(self) -> None:
        now = self.snapshot()
        if self.refused:
            assert now == self.seen, "a refused step changed an article"
        for (a, events), model in zip(now, self.models, strict=True):
            got = Model(
                a.status.value,
                a.latest.number,
                a.latest.created_by,
                a.claimed_by,
                a.approved_version,
                a.approved_by,
                events,
                bool(unsupported_statements(a.latest.answer)),
                model.authors,
            )
            assert got == model, a.slug
        self.seen, self.refused = now, False
        assert {u.email: u.active for u in self.service.list_users() if u.email in PEOPLE} == self.active

    def teardown(self) -> None:
        check = self.service.verify_audit()
        assert check.ok, check.problems


@pytest.fixture(scope="module")
def workflow_app(editorial_factory: Any) -> Iterator[Editorial]:
    """A fresh editorial app with two people of each role, and one composed article to copy answers from."""
    e: Editorial = editorial_factory()
    for who, role in PEOPLE.items():
        if who not in {email for email, _role in STAFF.values()}:
            e.articles.add_user(who, role, PASSWORD)
    with TestClient(e.app, follow_redirects=False) as client:
        ask_api(client, "What is the first-line treatment for community-acquired pneumonia?")
        yield e


@pytest.mark.slow
def test_the_workflow_matches_the_reference_model(workflow_app: Editorial) -> None:
    composed = workflow_app.articles.list(limit=1)[0].latest
    Workflow.editorial = workflow_app
    Workflow.answer = (composed.answer, composed.sources)
    Workflow.clients = {
        who: TestClient(workflow_app.app, follow_redirects=False, headers={"Authorization": f"Bearer {token}"})
        for who, token in ((who, workflow_app.articles.issue_token(who)) for who in PEOPLE)
    }
    Workflow.steps = 0
    run_state_machine_as_test(Workflow, settings=SETTINGS)
    assert Workflow.steps >= 1500  # about max_examples x stateful_step_count
