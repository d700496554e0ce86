"""Whether a reader can see an HTML element's text, from the page's resolved styles.

The cascade (style sheets, then style attributes, !important) is applied top-down. Two kinds of hiding differ:
some hide an element with everything inside it, whatever its descendants say (display:none, opacity, clipping,
zero size with overflow hidden, off-screen positioning, scale(0), the hidden attribute); others hide only text
that inherits them, so a descendant may undo them (visibility:hidden, a tiny font size, text coloured as its
background).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from lxml import etree

from bedside.ingest.css import Declarations, Rule, StyleSheets, media_applies, parse_stylesheet
from bedside.ingest.css_values import RGBA, color_in, contrast, length_px, over, parse_color

WHITE: RGBA = (255.0, 255.0, 255.0, 1.0)
BLACK: RGBA = (0.0, 0.0, 0.0, 1.0)
MIN_FONT_PX = 4.0  # smaller text cannot be read (a 1 pt font is 1.3 px)
MIN_OPACITY = 0.1
MIN_CONTRAST = 1.25  # WCAG ratio; #eee on white is 1.16, #ddd on white 1.36
OFF_SCREEN_PX = 100.0
_ATTRIBUTES = ("hidden", "aria-hidden", "color", "bgcolor")  # attributes that change what a reader sees
_TRANSFORM = re.compile(r"(scale(?:x|y|z|3d)?|matrix|translate(?:x|y|3d)?)\(([^)]*)\)")
_FONT_SIZE_IN_SHORTHAND = re.compile(r"(?:^|\s)((?:\d+\.?\d*|\.\d+)(?:px|pt|pc|em|rem|%|ex|ch|in|cm|mm))(?:/|\s)")


@dataclass(frozen=True, slots=True)
class Context:
    """What an element inherits: text colour, the opaque colour behind it (None over an image), font size,
    the opacity of its ancestors multiplied, and whether visibility is hidden."""

    color: RGBA = BLACK
    background: RGBA | None = WHITE
    font_px: float = 16.0
    opacity: float = 1.0
    invisible: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    subtree: str  # why the element and everything in it is hidden; "" when it is not
    own: str  # why the text that inherits the element's style is hidden; "" when it is readable
    context: Context  # for its children


class PageStyle:
    """A page's style sheets (every <style> element, in document order) and the judgement built on them."""

    def __init__(self, sheets: Iterable[str] = ()) -> None:
        rules: list[Rule] = []
        for css in sheets:
            rules.extend(parse_stylesheet(css, start=len(rules)))
        self.sheets = StyleSheets(rules)
        self._inherited: dict[Context, str] = {}  # _own_hidden of contexts seen, for elements that add nothing

    @classmethod
    def of_page(cls, root: etree._Element) -> PageStyle:
        """The style sheets of a parsed page, print-only ones left out."""
        sheets = []
        for style in root.iter("style"):
            if media_applies(style.get("media") or ""):
                sheets.append("".join(str(t) for t in style.itertext()))
        return cls(sheets)

    def judge(self, el: etree._Element, parent: Context) -> Verdict:
        """Decide for el given what it inherits from its parent."""
        d = self.sheets.declarations(el)
        if not d and not any(el.get(a) is not None for a in _ATTRIBUTES):  # most elements: nothing of their own
            own = self._inherited.get(parent)
            if own is None:
                own = self._inherited[parent] = _own_hidden(parent)
            return Verdict("", own, parent)
        ctx = _context(el, d, parent)
        return Verdict(_subtree_hidden(el, d, ctx, parent), _own_hidden(ctx), ctx)


def _value(d: Declarations, name: str) -> str:
    return d.get(name, ("", False))[0]


def _context(el: etree._Element, d: Declarations, parent: Context) -> Context:
    ctx = parent
    size = _value(d, "font-size") or _shorthand_size(_value(d, "font"))
    if size:
        if size in ("smaller", "larger"):
            px: float | None = parent.font_px * (0.83 if size == "smaller" else 1.2)
        else:
            px = length_px(size, parent.font_px, percent_of=parent.font_px)
        if px is not None:
            ctx = replace(ctx, font_px=max(px, 0.0))
    color_value = _value(d, "color") or (el.get("color") or "" if el.tag == "font" else "")
    color = parse_color(color_value) if color_value else None
    if color is not None:
        ctx = replace(ctx, color=color)
    background = _value(d, "background-color") or _value(d, "background") or (el.get("bgcolor") or "")
    if "url(" in background or "gradient(" in background or "url(" in _value(d, "background-image"):
        ctx = replace(ctx, background=None)  # text over an image: its contrast is unknown here
    elif background:
        found = color_in(background)
        if found is not None and found[3] > 0:
            ctx = replace(ctx, background=over(found, parent.background) if parent.background else None)
    opacity = _number(_value(d, "opacity"))
    if opacity is not None:
        ctx = replace(ctx, opacity=parent.opacity * max(0.0, min(1.0, opacity)))
    visibility = _value(d, "visibility")
    if visibility:
        ctx = replace(ctx, invisible=visibility in ("hidden", "collapse"))
    return ctx


def _shorthand_size(font: str) -> str:
    m = _FONT_SIZE_IN_SHORTHAND.search(f" {font} ")
    return m.group(1) if m else ""


def _number(value: str) -> float | None:
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        return None


def _own_hidden(ctx: Context) -> str:
    if ctx.invisible:
        return "visibility:hidden"
    if ctx.font_px < MIN_FONT_PX:
        return "tiny font"
    if ctx.color[3] < MIN_OPACITY:
        return "transparent text"
    if ctx.background is not None and contrast(over(ctx.color, ctx.background), ctx.background) < MIN_CONTRAST:
        return "text coloured as its background"
    return ""


def _subtree_hidden(el: etree._Element, d: Declarations, ctx: Context, parent: Context) -> str:
    if el.get("hidden") is not None:
        return "hidden attribute"
    if (el.get("aria-hidden") or "").strip().lower() == "true":
        return "aria-hidden"
    if _value(d, "display") == "none" or _value(d, "content-visibility") == "hidden":
        return "display:none"
    if ctx.opacity < MIN_OPACITY <= parent.opacity:
        return "opacity:0"
    if _zero_size(d, ctx.font_px):
        return "zero size"
    if _off_screen(d, ctx.font_px):
        return "off-screen"
    if _clipped(d, ctx.font_px):
        return "clipped"
    if _scaled_away(d):
        return "scaled to nothing"
    return ""


def _zero_size(d: Declarations, font_px: float) -> bool:
    overflow = {_value(d, n) for n in ("overflow", "overflow-x", "overflow-y")}
    if not overflow & {"hidden", "clip", "scroll", "auto"} and not any(v.startswith("hidden") for v in overflow):
        return False
    for name in ("height", "max-height", "width", "max-width"):
        px = length_px(_value(d, name), font_px, percent_of=100.0) if _value(d, name) else None
        if px is not None and px <= 1:
            return True
    return False


def _off_screen(d: Declarations, font_px: float) -> bool:
    positioned = _value(d, "position") in ("absolute", "fixed", "relative", "sticky")
    names = ("left", "top", "right", "bottom") if positioned else ()
    for name in (*names, "text-indent", "margin-left", "margin-top"):
        px = length_px(_value(d, name), font_px, percent_of=1000.0) if _value(d, name) else None
        if px is not None and (px <= -OFF_SCREEN_PX or (name in ("left", "top") and px >= 5000)):
            return True
    for fn, args in _TRANSFORM.findall(_value(d, "transform")):
        if fn.startswith("translate"):
            lengths = [length_px(a, font_px, percent_of=100.0) for a in re.split(r"[\s,]+", args.strip()) if a]
            if any(x is not None and abs(x) >= 2000 for x in lengths):
                return True
    return False


def _clipped(d: Declarations, font_px: float) -> bool:
    clip = re.fullmatch(r"rect\(([^)]*)\)", _value(d, "clip"))
    if clip:
        sides = [length_px(v, font_px) if v != "auto" else None for v in re.split(r"[\s,]+", clip.group(1).strip())]
        if len(sides) == 4 and None not in sides:
            top, right, bottom, left = (s or 0.0 for s in sides)
            if right - left <= 1 or bottom - top <= 1:
                return True
    path = _value(d, "clip-path")
    inset = re.match(r"inset\(\s*([^)\s]+)", path)
    if inset:
        px = length_px(inset.group(1), font_px, percent_of=100.0)
        if px is None:
            return False
        return px >= 50 if inset.group(1).endswith("%") else px >= 5000
    shape = re.match(r"(circle|ellipse)\(\s*([^)\s]+)", path)
    if shape:
        radius = length_px(shape.group(2), font_px, percent_of=100.0)
        return radius is not None and radius <= 0.5
    polygon = re.fullmatch(r"polygon\(([^)]*)\)", path)
    if polygon:
        return len({p.strip() for p in polygon.group(1).split(",")}) <= 2  # a point or a line encloses nothing
    return False


def _scaled_away(d: Declarations) -> bool:
    factors: list[float] = []
    for fn, args in _TRANSFORM.findall(_value(d, "transform")):
        numbers = [_number(a) for a in re.split(r"[\s,]+", args.strip()) if a]
        values = [n for n in numbers if n is not None]
        if fn == "matrix" and len(values) == 6:
            factors.append(abs(values[0] * values[3] - values[1] * values[2]) ** 0.5)
        elif fn.startswith("scale"):
            factors.extend(values[:3] if fn != "scalez" else [])
    scale = [_number(a) for a in _value(d, "scale").split()]
    factors.extend(s for s in scale if s is not None)
    return any(abs(f) < 0.05 for f in factors)
