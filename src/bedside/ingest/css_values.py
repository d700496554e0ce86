"""CSS values that decide whether text can be seen: colours (names, hex, rgb(), hsl()) and lengths.

A colour is painted over what lies below it and compared by WCAG contrast ratio; a length resolves to CSS pixels
against the font size or a percentage's base (viewport units approximately, for a laptop screen).
"""

from __future__ import annotations

import colorsys
import re

__all__ = ["RGBA", "color_in", "contrast", "length_px", "over", "parse_color"]

RGBA = tuple[float, float, float, float]  # 0-255 components, alpha 0-1

_NAMED = {
    "white": "#ffffff",
    "black": "#000000",
    "snow": "#fffafa",
    "ivory": "#fffff0",
    "ghostwhite": "#f8f8ff",
    "whitesmoke": "#f5f5f5",
    "floralwhite": "#fffaf0",
    "mintcream": "#f5fffa",
    "azure": "#f0ffff",
    "aliceblue": "#f0f8ff",
    "seashell": "#fff5ee",
    "honeydew": "#f0fff0",
    "linen": "#faf0e6",
    "oldlace": "#fdf5e6",
    "lavenderblush": "#fff0f5",
    "beige": "#f5f5dc",
    "cornsilk": "#fff8dc",
    "lightyellow": "#ffffe0",
    "silver": "#c0c0c0",
    "gray": "#808080",
    "grey": "#808080",
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "navy": "#000080",
    "yellow": "#ffff00",
    "maroon": "#800000",
    "purple": "#800080",
    "teal": "#008080",
    "olive": "#808000",
    "lime": "#00ff00",
    "aqua": "#00ffff",
    "fuchsia": "#ff00ff",
    "orange": "#ffa500",
    "lightgray": "#d3d3d3",
    "lightgrey": "#d3d3d3",
    "gainsboro": "#dcdcdc",
    "darkgray": "#a9a9a9",
    "darkgrey": "#a9a9a9",
    "dimgray": "#696969",
    "dimgrey": "#696969",
    "darkslategray": "#2f4f4f",
    "midnightblue": "#191970",
    "darkblue": "#00008b",
    "darkgreen": "#006400",
    "darkred": "#8b0000",
    "brown": "#a52a2a",
    "pink": "#ffc0cb",
    "lavender": "#e6e6fa",
}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"
_HUE = rf"{_NUMBER}(?:%|deg|grad|rad|turn)?"
_FUNC = re.compile(
    rf"(rgba?|hsla?)\(\s*({_HUE}|none)[\s,]+({_NUMBER}%?|none)[\s,]+({_NUMBER}%?|none)(?:\s*[,/]\s*({_NUMBER}%?))?\s*\)"
)


def parse_color(value: str) -> RGBA | None:
    """A CSS colour (#rgb, #rgba, #rrggbb, #rrggbbaa, rgb[a](), hsl[a](), a name, transparent) or None."""
    v = value.strip().lower()
    if v == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    v = _NAMED.get(v, v)
    if re.fullmatch(r"#[0-9a-f]{3,4}", v):
        c = [int(ch * 2, 16) for ch in v[1:]]
        return (c[0], c[1], c[2], c[3] / 255 if len(c) == 4 else 1.0)
    if re.fullmatch(r"#[0-9a-f]{6}(?:[0-9a-f]{2})?", v):
        c = [int(v[i : i + 2], 16) for i in range(1, len(v), 2)]
        return (c[0], c[1], c[2], c[3] / 255 if len(c) == 4 else 1.0)
    m = _FUNC.fullmatch(v)
    if m is None:
        return None
    args = [a if a not in (None, "none") else "0" for a in m.groups()[1:4]]
    alpha = _fraction(m.group(5)) if m.group(5) else 1.0
    if m.group(1).startswith("rgb"):
        r, g, b = (_clamp(float(a[:-1]) * 2.55 if a.endswith("%") else float(a), 0, 255) for a in args)
        return (r, g, b, alpha)
    number, unit = re.fullmatch(r"(.*?)(deg|grad|rad|turn|%)?", args[0]).groups()  # type: ignore[union-attr]
    hue = float(number) * {"grad": 0.9, "rad": 57.2958, "turn": 360.0}.get(unit or "", 1.0) % 360 / 360
    sat, light = (_clamp(float(a.rstrip("%")) / 100, 0, 1) for a in args[1:])
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return (r * 255, g * 255, b * 255, alpha)


def _fraction(text: str) -> float:
    return _clamp(float(text[:-1]) / 100 if text.endswith("%") else float(text), 0, 1)


def _clamp(x: float, low: float, high: float) -> float:
    return max(low, min(high, x))


def color_in(value: str) -> RGBA | None:
    """The first colour named in a shorthand such as `background: url(x.png) #fff no-repeat`."""
    whole = parse_color(value)
    if whole is not None:
        return whole
    for token in re.findall(r"#[0-9a-f]{3,8}\b|(?:rgba?|hsla?)\([^)]*\)|[a-z]+", value.lower()):
        found = parse_color(token)
        if found is not None:
            return found
    return None


def over(top: RGBA, below: RGBA) -> RGBA:
    """`top` painted over an opaque `below`."""
    a = top[3]
    return (top[0] * a + below[0] * (1 - a), top[1] * a + below[1] * (1 - a), top[2] * a + below[2] * (1 - a), 1.0)


def contrast(a: RGBA, b: RGBA) -> float:
    """The WCAG contrast ratio of two opaque colours: 1 (identical) to 21 (black on white)."""

    def luminance(c: RGBA) -> float:
        def channel(x: float) -> float:
            x /= 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Lengths ---------------------------------------------------------------------------------------------------------

_LENGTH = re.compile(rf"({_NUMBER})\s*(px|pt|pc|em|rem|ex|ch|%|vw|vh|vmin|vmax|in|cm|mm|q)?")
_ABSOLUTE_SIZES = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}


def length_px(value: str, font_px: float = 16.0, percent_of: float | None = None) -> float | None:
    """A length in CSS pixels (em and % against the given sizes); None when it is not a plain length."""
    v = value.strip().lower()
    if v in _ABSOLUTE_SIZES:
        return _ABSOLUTE_SIZES[v]
    m = _LENGTH.fullmatch(v)
    if m is None:
        return None
    number, unit = float(m.group(1)), m.group(2) or "px"
    if unit in ("em", "ch", "ex"):
        return number * font_px * (0.5 if unit != "em" else 1)
    if unit == "%":
        return number / 100 * (percent_of if percent_of is not None else font_px)
    factor = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "rem": 16.0, "in": 96.0, "cm": 37.8, "mm": 3.78, "q": 0.945}
    return number * factor.get(unit, 10.0)  # vw/vh/vmin/vmax: about 10 px per unit on a laptop screen
