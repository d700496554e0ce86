"""Text a PDF draws where no reader sees it: invisible render mode, white fill, a tiny font, off the crop box.

Used as pypdf's `visitor_operand_before`: it follows the graphics state (fill colour, text render mode, font size,
q/Q nesting) and, just before a text-showing operator runs, empties its strings when the text would be hidden, so
the hidden words never reach the extracted text. What it drops is counted by reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

_SHOW = frozenset({b"Tj", b"TJ", b"'", b'"'})
_INVISIBLE_MODES = frozenset({3, 7})  # 3: neither fill nor stroke; 7: add to the clipping path only
MIN_SIZE = 1.0  # points: smaller text cannot be read on screen or paper
_WHITE = 0.95  # every colour component at least this light (gray, RGB) counts as white on a white page


@dataclass(frozen=True, slots=True)
class _State:
    white: bool = False
    mode: int = 0
    size: float = 12.0


@dataclass
class HiddenText:
    """Empties hidden text operators on one page; `dropped` counts them by reason."""

    box: tuple[float, float, float, float]  # crop box: left, bottom, right, top
    dropped: dict[str, int] = field(default_factory=dict)
    _state: _State = field(default_factory=_State)
    _stack: list[_State] = field(default_factory=list)

    def __call__(self, operator: bytes, operands: list[Any], cm: list[float], tm: list[float]) -> None:
        """pypdf's visitor_operand_before."""
        s = self._state
        if operator == b"q":
            self._stack.append(s)
        elif operator == b"Q":
            self._state = self._stack.pop() if self._stack else _State()
        elif operator in (b"g", b"rg", b"sc", b"scn") and _numbers(operands):
            self._state = replace(s, white=min(_numbers(operands)) >= _WHITE)
        elif operator == b"k" and _numbers(operands):
            self._state = replace(s, white=max(_numbers(operands)) <= 1 - _WHITE)
        elif operator == b"Tr" and _numbers(operands):
            self._state = replace(s, mode=int(_numbers(operands)[0]))
        elif operator == b"Tf" and len(operands) >= 2 and _numbers(operands[1:]):
            self._state = replace(s, size=abs(_numbers(operands[1:])[0]))
        elif operator in _SHOW:
            why = self._why(cm, tm)
            if why and _blank(operands):
                self.dropped[why] = self.dropped.get(why, 0) + 1

    def _why(self, cm: list[float], tm: list[float]) -> str:
        s = self._state
        if s.mode in _INVISIBLE_MODES:
            return "invisible render mode"
        if s.white:
            return "white text"
        if s.size * _scale(tm) * _scale(cm) < MIN_SIZE:
            return "tiny font"
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        left, bottom, right, top = self.box
        if not (left - 1 <= x < right and bottom <= y < top):
            return "outside the page"
        return ""


def _numbers(operands: list[Any]) -> list[float]:
    return [float(o) for o in operands if isinstance(o, (int, float))]


def _scale(m: list[float]) -> float:
    return abs(m[0] * m[3] - m[1] * m[2]) ** 0.5 or 1.0


def _blank(operands: list[Any]) -> bool:
    """Empty every string among the operands (arrays too); True when any of them had visible characters."""
    had = False
    for i, o in enumerate(operands):
        if isinstance(o, list):
            had = _blank(o) or had
        elif isinstance(o, (str, bytes)) and type(o).__name__ != "NameObject":
            had = had or bool(o.strip())
            operands[i] = type(o)(b"") if isinstance(o, bytes) else type(o)("")
    return had
