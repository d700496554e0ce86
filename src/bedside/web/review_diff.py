"""What changed between two versions of an article: its statements as lines, compared line by line and, within a
changed line, word by word."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

__all__ = ["Diff", "DiffPart", "DiffRow", "diff_lines", "statement_lines"]


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
