"""Text a PDF draws where no reader sees it, found from the page's rendered geometry and graphics state.

Used as pypdf's `visitor_operand_before`: it follows the graphics state (fill colour and alpha, text render mode,
font size, horizontal scaling, text rise, clipping path, q/Q nesting), the filled rectangles painted so far, and
optional content (layers) switched off in the document's default view. Just before a text-showing operator runs
it empties the operator's strings when the text would be hidden, so hidden words never reach the extracted text.

Text painted over later by an opaque shape can only be known once the page is drawn: the first pass records
where each text operator and each filled rectangle went, and `covered()` names the operators to empty in a second
pass. What is dropped is counted by reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bedside.ingest.css_values import contrast

_SHOW = frozenset({b"Tj", b"TJ", b"'", b'"'})
_INVISIBLE_MODES = frozenset({3, 7})  # 3: neither fill nor stroke; 7: add to the clipping path only
_FILLS = frozenset({b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"})
_PAINTS = _FILLS | {b"S", b"s", b"n"}
MIN_SIZE = 2.0  # points: smaller text cannot be read on screen or paper (1 pt text is a hiding trick)
MIN_ALPHA = 0.1
MIN_SCALING = 5.0  # Tz, percent of normal glyph width
MIN_CONTRAST = 1.25  # WCAG contrast ratio between the text's colour and what lies behind it
_WHITE = (1.0, 1.0, 1.0)

Box = tuple[float, float, float, float]  # left, bottom, right, top in device space
RGB = tuple[float, float, float]  # 0-1


@dataclass(frozen=True, slots=True)
class _State:
    fill: RGB = (0.0, 0.0, 0.0)
    alpha: float = 1.0
    covers: bool = True  # normal blending: a shape painted now hides what is under it (Multiply would not)
    mode: int = 0
    size: float = 12.0
    scaling: float = 100.0
    rise: float = 0.0
    clip: Box | None = None


@dataclass(frozen=True, slots=True)
class _Rect:
    box: Box
    fill: RGB | None  # None for an image: its colours under the text are unknown
    opaque: bool
    seq: int


@dataclass
class OptionalContent:
    """The document's layers switched off in its default view, and the page's names for layers and ExtGStates."""

    off: set[int] = field(default_factory=set)  # object numbers of OCGs that are off
    properties: dict[str, Any] = field(default_factory=dict)  # /Properties name -> OCG or OCMD (unresolved)
    alphas: dict[str, float] = field(default_factory=dict)  # /ExtGState name -> fill alpha (/ca)
    blends: dict[str, bool] = field(default_factory=dict)  # /ExtGState name -> its /BM blends normally
    images: dict[str, bool] = field(default_factory=dict)  # image /XObject name -> opaque (no mask, no soft mask)

    def hides(self, ref: Any) -> bool:
        """True when marked content tagged with this OCG or membership dictionary is not shown."""
        obj = _resolve(ref)
        if not isinstance(obj, dict):
            return False
        if str(obj.get("/Type", "")) == "/OCMD":
            groups = obj.get("/OCGs")
            refs = [dict.__getitem__(obj, "/OCGs")] if not isinstance(groups, list) else list(groups)
            state = [_idnum(r) in self.off for r in refs]
            policy = str(obj.get("/P", "/AnyOn"))
            if not state:
                return False
            return {
                "/AllOn": any(state),
                "/AnyOff": not any(state),
                "/AllOff": not all(state),
            }.get(policy, all(state))
        return _idnum(ref) in self.off


@dataclass
class HiddenText:
    """Empties hidden text operators on one page; `dropped` counts them by reason."""

    box: Box  # crop box
    layers: OptionalContent = field(default_factory=OptionalContent)
    blank: frozenset[int] = frozenset()  # text operators to empty (by sequence number), found covered in pass one
    dropped: dict[str, int] = field(default_factory=dict)
    _state: _State = field(default_factory=_State)
    _stack: list[_State] = field(default_factory=list)
    _marked: list[bool] = field(default_factory=list)  # marked-content nesting: True where a layer is off
    _path: list[tuple[list[tuple[float, float]], bool]] = field(default_factory=list)  # subpaths, and "curved"
    _clip_next: bool = False
    _seq: int = 0
    _rects: list[_Rect] = field(default_factory=list)
    _shown: list[tuple[int, float, float]] = field(default_factory=list)  # visible text operators: seq, x, y

    def __call__(self, operator: bytes, operands: list[Any], cm: list[float], tm: list[float]) -> None:
        """pypdf's visitor_operand_before."""
        self._seq += 1
        if operator in _SHOW:
            self._show(operands, cm, tm)
        elif operator in (b"BMC", b"BDC", b"EMC"):
            self._mark(operator, operands)
        elif operator == b"Do" and operands and str(operands[0]) in self.layers.images and not any(self._marked):
            corners = [_apply(cm, x, y) for x, y in ((0, 0), (1, 0), (1, 1), (0, 1))]  # an image fills the unit square
            opaque = self.layers.images[str(operands[0])] and self._state.alpha >= 0.5 and self._state.covers
            self._rects.append(_Rect(_bbox(corners), None, opaque, self._seq))
        elif operator in (b"m", b"l", b"c", b"v", b"y", b"re", b"h", b"W", b"W*") or operator in _PAINTS:
            self._draw(operator, _numbers(operands), cm)
        else:
            self._set(operator, operands)

    def covered(self) -> frozenset[int]:
        """Text operators that an opaque rectangle painted afterwards hides."""
        return frozenset(
            seq
            for seq, x, y in self._shown
            if any(r.seq > seq and r.opaque and _inside(x, y, r.box) for r in self._rects)
        )

    def _set(self, operator: bytes, operands: list[Any]) -> None:
        s, n = self._state, _numbers(operands)
        if operator == b"q":
            self._stack.append(s)
        elif operator == b"Q":
            self._state = self._stack.pop() if self._stack else _State()
        elif operator in (b"g", b"rg", b"k", b"sc", b"scn") and n:
            self._state = replace(s, fill=_rgb(n))
        elif operator == b"gs" and operands:
            name = str(operands[0])
            self._state = replace(
                s, alpha=self.layers.alphas.get(name, s.alpha), covers=self.layers.blends.get(name, s.covers)
            )
        elif operator == b"Tr" and n:
            self._state = replace(s, mode=int(n[0]))
        elif operator == b"Tf" and len(operands) >= 2 and _numbers(operands[1:]):
            self._state = replace(s, size=abs(_numbers(operands[1:])[0]))
        elif operator == b"Tz" and n:
            self._state = replace(s, scaling=n[0])
        elif operator == b"Ts" and n:
            self._state = replace(s, rise=n[0])

    def _mark(self, operator: bytes, operands: list[Any]) -> None:
        if operator == b"EMC":
            if self._marked:
                self._marked.pop()
            return
        off = False
        if operator == b"BDC" and len(operands) >= 2 and str(operands[0]) == "/OC":
            tag = operands[1]
            off = self.layers.hides(self.layers.properties.get(str(tag)) if not isinstance(tag, dict) else tag)
        self._marked.append(off)

    def _draw(self, operator: bytes, n: list[float], cm: list[float]) -> None:
        if operator == b"re" and len(n) >= 4:
            x, y, w, h = n[:4]
            corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            self._path.append(([_apply(cm, px, py) for px, py in corners], False))
        elif operator == b"m" and len(n) >= 2:
            self._path.append(([_apply(cm, n[0], n[1])], False))
        elif operator in (b"l", b"c", b"v", b"y") and len(n) >= 2 and self._path:
            points, curved = self._path[-1]
            points.extend(_apply(cm, n[i], n[i + 1]) for i in range(0, len(n) - 1, 2))
            self._path[-1] = (points, curved or operator != b"l")
        elif operator in (b"W", b"W*"):
            self._clip_next = True
        elif operator in _PAINTS:
            self._paint(operator)

    def _paint(self, operator: bytes) -> None:
        points = [p for sub, _ in self._path for p in sub]
        if self._clip_next:
            box = _bbox(points) if points else (0.0, 0.0, 0.0, 0.0)
            old = self._state.clip
            if old is not None:
                box = (max(box[0], old[0]), max(box[1], old[1]), min(box[2], old[2]), min(box[3], old[3]))
            self._state = replace(self._state, clip=box)
        if operator in _FILLS and not any(self._marked):
            for sub, curved in self._path:
                if not curved and _is_rectangle(sub):
                    box = _bbox(sub)
                    opaque = self._state.alpha >= 0.5 and self._state.covers
                    self._rects.append(_Rect(box, self._state.fill, opaque, self._seq))
        self._path = []
        self._clip_next = False

    def _show(self, operands: list[Any], cm: list[float], tm: list[float]) -> None:
        why, x, y = self._why(cm, tm)
        if not why and self._seq in self.blank:
            why = "covered by a shape"
        if why:
            if _blank(operands):
                self.dropped[why] = self.dropped.get(why, 0) + 1
        elif _has_text(operands):
            self._shown.append((self._seq, x, y))

    def _why(self, cm: list[float], tm: list[float]) -> tuple[str, float, float]:
        s = self._state
        size = s.size * _scale(tm) * _scale(cm)
        # a point inside the first glyph: the origin moved up by the rise and a third of the font size
        x, y = _apply(cm, tm[2] * s.rise + tm[4], tm[3] * s.rise + tm[5] + s.size * 0.3)
        if any(self._marked):
            return "optional content switched off", x, y
        if s.mode in _INVISIBLE_MODES:
            return "invisible render mode", x, y
        if s.alpha < MIN_ALPHA:
            return "transparent text", x, y
        if abs(s.scaling) < MIN_SCALING:
            return "zero horizontal scaling", x, y
        if size < MIN_SIZE:
            return "tiny font", x, y
        left, bottom, right, top = self.box
        if not (left - 1 <= x < right and bottom <= y < top):
            return "outside the page", x, y
        clip = s.clip
        if clip is not None and (clip[2] - clip[0] < 1 or clip[3] - clip[1] < 1 or not _inside(x, y, clip, 2.0)):
            return "clipped", x, y
        under = next((r for r in reversed(self._rects) if r.opaque and _inside(x, y, r.box)), None)
        behind = _WHITE if under is None else under.fill
        if behind is not None and contrast(_255(s.fill), _255(behind)) < MIN_CONTRAST:
            return "text coloured as its background", x, y
        return "", x, y


def _resolve(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _idnum(ref: Any) -> int:
    return getattr(ref, "idnum", id(ref))


def _numbers(operands: list[Any]) -> list[float]:
    return [float(o) for o in operands if isinstance(o, (int, float))]


def _rgb(n: list[float]) -> RGB:
    """The fill colour from its components: 1 gray, 3 RGB, 4 CMYK (a pattern's name operand is ignored)."""
    if len(n) >= 4:
        c, m, y, k = n[:4]
        return ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    if len(n) == 3:
        return (n[0], n[1], n[2])
    return (n[0], n[0], n[0])


def _255(c: RGB) -> tuple[float, float, float, float]:
    return (c[0] * 255, c[1] * 255, c[2] * 255, 1.0)


def _apply(m: list[float], x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _bbox(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _is_rectangle(points: list[tuple[float, float]]) -> bool:
    """Four corners (or the same closed again) on two x and two y values: an axis-aligned rectangle."""
    corners = set(points)
    return 3 <= len(corners) <= 4 and len({p[0] for p in corners}) <= 2 and len({p[1] for p in corners}) <= 2


def _inside(x: float, y: float, box: Box, margin: float = 0.0) -> bool:
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin


def _scale(m: list[float]) -> float:
    return abs(m[0] * m[3] - m[1] * m[2]) ** 0.5 or 1.0


def _has_text(operands: list[Any]) -> bool:
    for o in operands:
        if isinstance(o, list) and _has_text(o):
            return True
        if isinstance(o, (str, bytes)) and type(o).__name__ != "NameObject" and o.strip():
            return True
    return False


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
