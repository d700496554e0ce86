"""The review desk: the queue, an article with its sources side by side, its history and changes, and edits.

One service for the review pages and the review API. Whether a person may act is decided by the state machine
(`bedside.editorial.states`), both for showing buttons and when the action is taken; the article service checks
again inside its transaction, so a lost race is a Conflict, never a half-done step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Any

from bedside.answer.render import STATUS_LABELS
from bedside.editorial.edits import unsupported_statements
from bedside.editorial.interface import Article, AuditEvent, ReviewStatus, User
from bedside.editorial.states import REVIEW_ACTIONS, Action, Subject, advance, allowed_actions
from bedside.errors import InvalidInput
from bedside.web.articles import EditorialService
from bedside.web.asked import is_article
from bedside.web.service import WebService
from bedside.web.views import ArticleView, answer_from_dict

__all__ = ["QUEUE_ORDER", "ReviewDesk", "diff_lines", "edited_answer", "statement_lines"]

QUEUE_ORDER = (
    ReviewStatus.SUBMITTED, ReviewStatus.UNDER_REVIEW, ReviewStatus.CHANGES_REQUESTED, ReviewStatus.APPROVED,
    ReviewStatus.REJECTED,
)  # fmt: skip
QUEUE_LIMIT = 200
VERSION_BOUND = (Action.CLAIM.value, Action.APPROVE.value)  # actions that must name the version reviewed
Fields = Mapping[str, Sequence[str]]  # a submitted form: name -> every value given


@dataclass(frozen=True, slots=True)
class QueueItem:
    slug: str
    title: str
    question: str
    status: str
    waiting_since: str  # when the article last changed (ISO 8601)
    versions: int
    author: str  # who made the latest version
    claimed_by: str
    sources_changed: bool
    actions: tuple[str, ...]  # review actions the viewer may take now
    sources_changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueGroup:
    status: str
    label: str
    items: tuple[QueueItem, ...]
    more: bool  # the group holds more than QUEUE_LIMIT articles


@dataclass(frozen=True, slots=True)
class VersionInfo:
    number: int
    created: str
    created_by: str


@dataclass(frozen=True, slots=True)
class DiffPart:
    kind: str  # "same", "removed" or "added"
    text: str


@dataclass(frozen=True, slots=True)
class DiffRow:
    kind: str  # "same", "removed", "added", or "gap" (unchanged lines left out)
    parts: tuple[DiffPart, ...]


@dataclass(frozen=True, slots=True)
class Diff:
    old: int
    new: int
    rows: tuple[DiffRow, ...]

    @property
    def changed(self) -> bool:
        return any(row.kind in ("removed", "added") for row in self.rows)


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
class ReviewPage:
    """Everything a reviewer sees of one article."""

    article: Article
    title: str
    status_label: str
    shown: int  # the version shown side by side with its sources
    versions: tuple[VersionInfo, ...]
    view: ArticleView
    actions: tuple[str, ...]
    can_edit: bool
    history: tuple[AuditEvent, ...]
    diff: Diff | None
    public_url: str  # "" while the public cannot see it
    unsupported: tuple[str, ...] = ()  # the latest version's editor statements the verifier did not find
    change_request: ChangeRequest | None = None  # the latest request for changes, while it is the last word


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


class ReviewDesk:
    """Review and editing over the editorial service, with source passages from the knowledge base."""

    def __init__(self, service: WebService, editorial: EditorialService) -> None:
        self.service = service
        self.editorial = editorial

    # -- acting ----------------------------------------------------------------------------------------------------

    def review_from_form(self, slug: str, user: User, fields: Fields) -> Article:
        """A review step from the review page, on the version the page showed (its hidden `version`): approving
        needs the confirmation box ticked (`confirm=1`); a change request joins the per-statement notes to its
        comment."""
        action, comment = _first(fields, "action"), _first(fields, "comment")
        version = self.seen_version(_first(fields, "version"))
        if action == Action.APPROVE.value and _first(fields, "confirm") != "1":
            raise InvalidInput(
                "to approve, tick the box confirming that you checked every statement against its source"
            )
        if action == Action.REQUEST_CHANGES.value:
            article = self.editorial.get(slug)
            comment = change_comment(comment, _notes(fields), article.latest.answer)
        return self.review(slug, action, user, comment, version, override=_first(fields, "override") == "1")

    def review(
        self, slug: str, action: str, user: User, comment: str = "", version: int | None = None, *,
        override: bool = False,
    ) -> Article:  # fmt: skip
        """Take a review action (claim, release, approve, request_changes, reject) on `version`, the version the
        reviewer saw: claim and approve need it, and any action refuses (Conflict) when a newer version exists.
        `override` approves editor statements the verifier did not find in their cited sources."""
        if action not in {a.value for a in REVIEW_ACTIONS}:
            raise InvalidInput(f"unknown review action {action!r}")
        if version is None and action in VERSION_BOUND:
            raise InvalidInput(f"{action} needs the version you reviewed (version: its number)")
        return self.editorial.review(slug, action, user, comment, version, override=override)

    def latest(self, slug: str) -> tuple[Article, dict[str, Any]]:
        """The article and its latest version's answer JSON (with the article's slug and status)."""
        article = self.editorial.get(slug)
        answer = answer_from_dict(article.latest.answer)
        return article, replace(answer, slug=article.slug, status=article.status.value).to_dict()

    @staticmethod
    def seen_version(value: str) -> int | None:
        """The version number a review form names ('' when it names none)."""
        return _number(value, "the version reviewed") if value.strip() else None

    def edit(self, slug: str, user: User, answer: dict[str, Any], base: int | None = None) -> Article:
        """A new version from an editor (every statement cited); the article goes back to submitted. Statements the
        editor changed or added are checked against their cited sources."""
        return self.editorial.edit(slug, user, answer, base=base, check=self.service.check_statement)

    def edit_from_form(self, slug: str, user: User, fields: Fields) -> Article:
        """The edit form's version: its statements over the version it was opened on (`base`)."""
        article = self.editorial.get(slug)
        base = _number(_first(fields, "base"), "base version")
        if not 1 <= base <= len(article.versions):
            raise InvalidInput(f"no version {base} of this article")
        answer = edited_answer(article.versions[base - 1].answer, fields)
        return self.edit(slug, user, answer, base=base)

    # -- reading ---------------------------------------------------------------------------------------------------

    def queue(self, user: User) -> tuple[QueueGroup, ...]:
        """Articles by status (submitted first), the longest waiting first in each."""
        groups = []
        stale = getattr(self.editorial, "stale", None)
        if stale is not None:  # articles whose sources changed come first, whatever their status
            found = stale()
            if found:
                items = tuple(self._item(a, user) for a in found[:QUEUE_LIMIT])
                groups.append(QueueGroup("sources_changed", "Sources changed", items, len(found) > QUEUE_LIMIT))
        for status in QUEUE_ORDER:
            found = [a for a in self.editorial.queue(status, QUEUE_LIMIT + 1) if is_article(a.latest.answer)]
            items = tuple(self._item(a, user) for a in found[:QUEUE_LIMIT])
            groups.append(QueueGroup(status.value, STATUS_LABELS[status.value], items, len(found) > QUEUE_LIMIT))
        return tuple(groups)

    def _item(self, article: Article, user: User) -> QueueItem:
        return QueueItem(
            slug=article.slug, title=_title(article), question=article.question, status=article.status.value,
            waiting_since=article.updated, versions=len(article.versions), author=article.latest.created_by,
            claimed_by=article.claimed_by, sources_changed=article.sources_changed,
            actions=_review_actions(article, user), sources_changes=article.sources_changes,
        )  # fmt: skip

    def page(self, slug: str, user: User, version: int | None = None, old: int | None = None) -> ReviewPage:
        """The article as a reviewer sees it: version `version` (default latest) with its sources, the changes
        from `old` (default: the version before) to it, the actions open to `user`, and the audit history."""
        article = self.editorial.get(slug)
        latest = article.latest.number
        shown = _in_range(version or latest, latest, "version")
        old = _in_range(old, latest, "version to compare") if old else shown - 1
        diff = None
        if old >= 1 and old != shown:
            before, after = article.versions[old - 1].answer, article.versions[shown - 1].answer
            diff = Diff(old, shown, diff_lines(statement_lines(before), statement_lines(after)))
        answer = answer_from_dict(article.versions[shown - 1].answer)
        allowed = allowed_actions(Subject.of(article), user)
        history = tuple(self.editorial.history(slug))
        return ReviewPage(
            article=article, title=answer.title or article.question,
            status_label=STATUS_LABELS.get(article.status.value, article.status.value), shown=shown,
            versions=tuple(VersionInfo(v.number, v.created, v.created_by) for v in article.versions),
            view=self.service.article_view(answer, desk=True), actions=_review_actions(article, user),
            can_edit=Action.EDIT in allowed, history=history, diff=diff,
            public_url=f"/articles/{slug}" if article.public_version is not None else "",
            unsupported=tuple(unsupported_statements(article.latest.answer)),
            change_request=latest_change_request(history),
        )  # fmt: skip

    def edit_page(self, slug: str, user: User, fields: Fields | None = None) -> EditPage:
        """The edit form for the latest version (or as submitted, to show it again with a message).

        Raises what the state machine says when `user` may not edit the article now.
        """
        article = self.editorial.get(slug)
        advance(Subject.of(article), Action.EDIT, user, "")  # PermissionDenied or Conflict, with the reason
        base = _number(_first(fields, "base"), "base version") if fields else article.latest.number
        answer = article.versions[_in_range(base, len(article.versions), "version") - 1].answer
        shown = edited_answer(answer, fields, drop_empty=False) if fields else answer
        given = fields or {}
        new = {key: (_first(given, f"new:{key}"), _numbers(given.get(f"cite:{key}", ()))) for key in _keys(answer)}
        groups = [_group("bl", "Bottom line", answer.get("bottom_line", []), shown["bottom_line"], new)]
        for i, sec in enumerate(answer.get("sections", [])):
            texts = shown["sections"][i]["statements"]
            groups.append(_group(str(i), str(sec.get("heading", "")), sec.get("statements", []), texts, new))
        refs = tuple((int(r["number"]), str(r.get("title", ""))) for r in answer.get("references", []))
        request = latest_change_request(self.editorial.history(slug))
        if request is not None and request.version == base:  # its notes name this version's statements
            groups = [replace(g, statements=tuple(replace(st, note=request.notes.get(st.name[5:], ""))
                                                  for st in g.statements)) for g in groups]  # fmt: skip
        return EditPage(slug, article.question, str(shown.get("title", "")), base, tuple(groups), refs, request)


# -- the edit form ---------------------------------------------------------------------------------------------------


def edited_answer(base: dict[str, Any], fields: Fields | None, *, drop_empty: bool = True) -> dict[str, Any]:
    """`base` with the form's title and statement texts; an emptied statement is dropped, a new one is added with
    the citations ticked for it. Citations and provenance of existing statements are kept as they were."""
    fields = fields or {}

    def statements(key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for i, s in enumerate(items):
            text = _first(fields, f"text:{key}:{i}", str(s.get("text", ""))).strip()
            if text or not drop_empty:
                kept.append({**s, "text": text})
        new = _first(fields, f"new:{key}").strip()
        if new and drop_empty:
            kept.append({"text": new, "citations": _numbers(fields.get(f"cite:{key}", ())), "provenance": []})
        return kept

    sections = [
        {"heading": sec.get("heading", ""), "statements": statements(str(i), sec.get("statements", []))}
        for i, sec in enumerate(base.get("sections", []))
    ]
    return {
        "title": _first(fields, "title", str(base.get("title", ""))).strip(),
        "bottom_line": statements("bl", base.get("bottom_line", [])),
        "sections": [s for s in sections if s["statements"] or not drop_empty],
        "references": base.get("references", []),
    }


def _group(
    key: str, heading: str, original: list[dict[str, Any]], shown: list[dict[str, Any]],
    new: dict[str, tuple[str, list[int]]],
) -> EditGroup:  # fmt: skip
    statements = tuple(
        EditStatement(f"text:{key}:{i}", str(s["text"]), tuple(int(n) for n in original[i].get("citations", [])))
        for i, s in enumerate(shown)
    )
    text, cites = new.get(key, ("", []))
    return EditGroup(key, heading, statements, text, tuple(cites))


def _keys(answer: dict[str, Any]) -> list[str]:
    return ["bl", *(str(i) for i in range(len(answer.get("sections", []))))]


def _first(fields: Fields | None, name: str, default: str = "") -> str:
    values = fields.get(name) if fields else None
    return str(values[0]) if values else default


def _number(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number, not {value!r}") from None


def _numbers(values: Sequence[str]) -> list[int]:
    return [_number(v, "a citation") for v in values]


def _in_range(number: int, latest: int, what: str) -> int:
    if not 1 <= number <= latest:
        raise InvalidInput(f"no {what} {number}: this article has versions 1 to {latest}")
    return number


# -- change requests -------------------------------------------------------------------------------------------------

_NOTE = re.compile(r"^\[(?P<key>bl|\d+):(?P<i>\d+)\b[^\]]*\] (?P<note>.+)$")
NOTE_QUOTE = 60  # characters of the statement quoted beside a note, so the audit log reads on its own


def _notes(fields: Fields) -> dict[str, str]:
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


# -- queue and changes -----------------------------------------------------------------------------------------------


def _title(article: Article) -> str:
    return str(article.latest.answer.get("title") or article.question)


def _review_actions(article: Article, user: User) -> tuple[str, ...]:
    return tuple(a.value for a in allowed_actions(Subject.of(article), user) if a in REVIEW_ACTIONS)


def statement_lines(answer: Mapping[str, Any]) -> list[str]:
    """A version as lines to compare: the title, then each statement with its place and citations."""
    lines = [f"Title: {answer.get('title', '')}"]

    def line(where: str, s: Mapping[str, Any]) -> str:
        cites = "".join(f"[{n}]" for n in s.get("citations", []))
        return f"{where}: {s.get('text', '')} {cites}".rstrip()

    lines += [line("Bottom line", s) for s in answer.get("bottom_line", [])]
    for sec in answer.get("sections", []):
        lines += [line(str(sec.get("heading", "")), s) for s in sec.get("statements", [])]
    return lines


def diff_lines(old: list[str], new: list[str], context: int = 1) -> tuple[DiffRow, ...]:
    """What changed, line by line (difflib), with `context` unchanged lines around each change and a "gap" row
    for each run of unchanged lines left out; a changed line shows which words went and which came."""
    rows: list[DiffRow] = []
    groups = list(SequenceMatcher(a=old, b=new, autojunk=False).get_grouped_opcodes(context))
    if not groups:  # nothing changed
        return ()
    shown = 0
    for group in groups:
        if group[0][1] > shown:
            rows.append(_gap(group[0][1] - shown))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [DiffRow("same", (DiffPart("same", line),)) for line in old[i1:i2]]
            elif tag == "replace" and i2 - i1 == j2 - j1:
                for before, after in zip(old[i1:i2], new[j1:j2], strict=True):
                    rows += _word_rows(before, after)
            else:
                rows += [DiffRow("removed", (DiffPart("removed", line),)) for line in old[i1:i2]]
                rows += [DiffRow("added", (DiffPart("added", line),)) for line in new[j1:j2]]
        shown = group[-1][2]
    if shown < len(old):
        rows.append(_gap(len(old) - shown))
    return tuple(rows)


def _gap(lines: int) -> DiffRow:
    return DiffRow("gap", (DiffPart("same", f"{lines} unchanged line{'' if lines == 1 else 's'}"),))


_WORD = re.compile(r"\s+|\S+")


def _word_rows(before: str, after: str) -> list[DiffRow]:
    a, b = _WORD.findall(before), _WORD.findall(after)
    old: list[DiffPart] = []
    new: list[DiffPart] = []
    opcodes = SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal" and 0 < n < len(opcodes) - 1 and not "".join(a[i1:i2]).strip():
            tag = "replace"  # a space between two changed words belongs to the change: one mark, not two
        if tag == "equal":
            old.append(DiffPart("same", "".join(a[i1:i2])))
            new.append(DiffPart("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            old.append(DiffPart("removed", "".join(a[i1:i2])))
        if j2 > j1:
            new.append(DiffPart("added", "".join(b[j1:j2])))
    return [DiffRow("removed", _merged(old)), DiffRow("added", _merged(new))]


def _merged(parts: list[DiffPart]) -> tuple[DiffPart, ...]:
    merged: list[DiffPart] = []
    for part in parts:
        if merged and merged[-1].kind == part.kind:
            merged[-1] = DiffPart(part.kind, merged[-1].text + part.text)
        else:
            merged.append(part)
    return tuple(merged)
