"""The part of CSS that decides whether text can be seen: style sheets, a selector subset, cascade, colours, sizes.

Only declarations that can hide text are kept (display, visibility, opacity, colours, sizes, overflow, position,
offsets, transforms, clipping). Selectors: type, universal, #id, .class, [attr], [attr=v|~=v|^=v|$=v|*=v|\\|=v],
:first-child/:last-child/:root, and the descendant, child, next- and later-sibling combinators. A selector using
anything else (:hover, ::before, :not(...)) never matches: it describes a state the page is not in when read, or
content that is not in the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from bedside.ingest.css_values import length_px

Declarations = dict[str, tuple[str, bool]]  # property -> (value, !important)

_PROPERTIES = frozenset(
    {
        "display",
        "visibility",
        "opacity",
        "color",
        "background",
        "background-color",
        "background-image",
        "font-size",
        "font",
        "height",
        "max-height",
        "width",
        "max-width",
        "overflow",
        "overflow-x",
        "overflow-y",
        "position",
        "left",
        "top",
        "right",
        "bottom",
        "text-indent",
        "margin-left",
        "margin-top",
        "margin",
        "transform",
        "clip",
        "clip-path",
        "content-visibility",
        "scale",
    }
)
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_COMPOUND = re.compile(
    r"""(?P<tag>\*|[a-zA-Z][\w-]*)?(?P<rest>(?:\#[\w-]+|\.[\w-]+|\[[^\]]*\]|::?[\w-]+(?:\([^)]*\))?)*)$"""
)
_PART = re.compile(
    r"""\#([\w-]+)|\.([\w-]+)|\[\s*([\w:-]+)\s*(?:([~^$*|]?=)\s*("[^"]*"|'[^']*'|[^\]\s]*)\s*)?\]|(::?[\w-]+(?:\([^)]*\))?)"""
)
_PSEUDO = frozenset({":first-child", ":last-child", ":root", ":only-child"})


@dataclass(frozen=True, slots=True)
class _Simple:
    tag: str  # "" for any
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str, str], ...]  # (name, operator, value)
    pseudo: tuple[str, ...]

    def matches(self, el: etree._Element) -> bool:
        if self.tag and (not isinstance(el.tag, str) or el.tag.lower() != self.tag):
            return False
        if self.ids and el.get("id") not in self.ids:
            return False
        if self.classes:
            have = set((el.get("class") or "").split())
            if not have.issuperset(self.classes):
                return False
        for name, op, value in self.attrs:
            got = el.get(name)
            if got is None or not _attr_matches(got, op, value):
                return False
        return all(_pseudo_matches(el, p) for p in self.pseudo)


@dataclass(frozen=True, slots=True)
class Rule:
    """One selector of a rule set, with its cascade position and the declarations that matter here."""

    parts: tuple[tuple[str, _Simple], ...]  # (combinator before it, compound), left to right; first combinator ""
    specificity: tuple[int, int, int]
    order: int
    declarations: Declarations

    @property
    def key(self) -> _Simple:
        return self.parts[-1][1]

    def matches(self, el: etree._Element) -> bool:
        return _match_from(self.parts, len(self.parts) - 1, el)


def _match_from(parts: tuple[tuple[str, _Simple], ...], i: int, el: etree._Element) -> bool:
    combinator, simple = parts[i]
    if not simple.matches(el):
        return False
    if i == 0:
        return True
    if combinator == ">":
        parent = el.getparent()
        return parent is not None and _match_from(parts, i - 1, parent)
    if combinator == " ":
        return any(_match_from(parts, i - 1, a) for a in el.iterancestors())
    if combinator == "+":
        prev = _previous_element(el)
        return prev is not None and _match_from(parts, i - 1, prev)
    return any(_match_from(parts, i - 1, s) for s in el.itersiblings(preceding=True) if isinstance(s.tag, str))


def _previous_element(el: etree._Element) -> etree._Element | None:
    for s in el.itersiblings(preceding=True):
        if isinstance(s.tag, str):
            return s
    return None


def _attr_matches(got: str, op: str, value: str) -> bool:
    if not op:
        return True
    if op == "=":
        return got == value
    if op == "~=":
        return value in got.split()
    if op == "^=":
        return bool(value) and got.startswith(value)
    if op == "$=":
        return bool(value) and got.endswith(value)
    if op == "*=":
        return bool(value) and value in got
    return got == value or got.startswith(value + "-")  # |=


def _pseudo_matches(el: etree._Element, pseudo: str) -> bool:
    parent = el.getparent()
    if pseudo == ":root":
        return parent is None
    siblings = [s for s in parent if isinstance(s.tag, str)] if parent is not None else [el]
    if pseudo == ":first-child":
        return bool(siblings) and siblings[0] is el
    if pseudo == ":last-child":
        return bool(siblings) and siblings[-1] is el
    return len(siblings) == 1  # :only-child


def strip_comments(css: str) -> str:
    """Remove /* comments */ so that `display:/**/none` reads as `display:none`."""
    return _COMMENT.sub("", css)


def parse_declarations(block: str) -> Declarations:
    """`a: b; c: d !important` as {property: (value, important)}, later declarations winning, only ours kept."""
    found: Declarations = {}
    for item in strip_comments(block).split(";"):
        name, sep, value = item.partition(":")
        name = name.strip().lower()
        if not sep or name not in _PROPERTIES:
            continue
        value = value.strip()
        important = bool(re.search(r"!\s*important\s*$", value, re.I))
        value = re.sub(r"!\s*important\s*$", "", value, flags=re.I).strip().lower()
        if value and (important or not found.get(name, ("", False))[1]):
            found[name] = (value, important)
    return found


def parse_stylesheet(css: str, start: int = 0) -> list[Rule]:
    """The rules of a style sheet in source order (numbered from `start`); @media screen/all rules included,
    print-only ones and other at-rules skipped."""
    rules: list[Rule] = []
    for prelude, block in _blocks(strip_comments(css)):
        if prelude.startswith("@"):
            if prelude.lower().startswith("@media") and media_applies(prelude[6:]):
                rules.extend(parse_stylesheet(block, start + len(rules)))
            continue
        declarations = parse_declarations(block)
        if not declarations:
            continue
        for selector in prelude.split(","):
            parsed = _selector(selector.strip())
            if parsed is not None:
                parts, specificity = parsed
                rules.append(Rule(parts, specificity, start + len(rules), declarations))
    return rules


# Media queries are evaluated for a desktop screen: what most readers of a guideline page see.
VIEWPORT = {"width": 1280.0, "height": 800.0}
_MEDIA_FEATURE = re.compile(r"\(\s*(min-|max-)?([a-z-]+)\s*(?::\s*([^)]*))?\)")


def media_applies(query: str) -> bool:
    """True when any query of a comma-separated list holds for a desktop screen."""
    return not query.strip() or any(_one_media(q.strip().lower()) for q in query.split(","))


def _one_media(query: str) -> bool:
    negate = query.startswith("not ")
    query = query.removeprefix("not ").removeprefix("only ").strip()
    kind = re.match(r"[a-z]+", query)
    holds = not (kind and kind.group() not in ("screen", "all", "and"))
    for prefix, feature, value in _MEDIA_FEATURE.findall(query):
        holds = holds and _feature_holds(prefix, feature, value.strip())
    return holds != negate


def _feature_holds(prefix: str, feature: str, value: str) -> bool:
    if feature in VIEWPORT:
        px = length_px(value) if value else None
        if px is None:
            return True
        size = VIEWPORT[feature]
        return size >= px if prefix == "min-" else size <= px if prefix == "max-" else size == px
    if feature == "orientation":
        return value in ("", "landscape")
    if feature.startswith("prefers-") or feature in ("forced-colors", "inverted-colors"):
        return value in ("", "no-preference", "light", "none")
    return True  # hover, pointer, color, resolution ...: a desktop screen has them


def _blocks(css: str) -> Iterator[tuple[str, str]]:
    """(prelude, body) for each top-level block; nested braces are kept inside the body."""
    i, n = 0, len(css)
    while i < n:
        open_at = css.find("{", i)
        if open_at < 0:
            return
        semicolon = css.find(";", i, open_at)
        if semicolon >= 0 and css[i:semicolon].strip().startswith("@"):  # @import ...; @charset ...;
            i = semicolon + 1
            continue
        depth, j = 1, open_at + 1
        while j < n and depth:
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
        yield css[i:open_at].strip(), css[open_at + 1 : j - 1]
        i = j


def _selector(text: str) -> tuple[tuple[tuple[str, _Simple], ...], tuple[int, int, int]] | None:
    tokens = re.split(r"\s*([>+~])\s*|\s+", text)
    parts: list[tuple[str, _Simple]] = []
    combinator = ""
    ids = classes = tags = 0
    for token in tokens:
        if not token:  # None: whitespace between compounds (a descendant), "": nothing
            if token is None and parts and not combinator:
                combinator = " "
            continue
        if token in (">", "+", "~"):
            combinator = token
            continue
        m = _COMPOUND.fullmatch(token)
        if m is None:
            return None
        simple = _compound(m.group("tag") or "", m.group("rest"))
        if simple is None:
            return None
        parts.append((combinator if parts else "", simple))
        combinator = ""
        ids += len(simple.ids)
        classes += len(simple.classes) + len(simple.attrs) + len(simple.pseudo)
        tags += bool(simple.tag)
    if not parts:
        return None
    return tuple(parts), (ids, classes, tags)


def _compound(tag: str, rest: str) -> _Simple | None:
    ids: list[str] = []
    classes: list[str] = []
    attrs: list[tuple[str, str, str]] = []
    pseudo: list[str] = []
    for m in _PART.finditer(rest):
        if m.group(1):
            ids.append(m.group(1))
        elif m.group(2):
            classes.append(m.group(2))
        elif m.group(3):
            attrs.append((m.group(3).lower(), m.group(4) or "", (m.group(5) or "").strip("\"'")))
        elif m.group(6).lower() in _PSEUDO:
            pseudo.append(m.group(6).lower())
        else:
            return None  # a state (:hover), generated content (::before) or a function we do not evaluate
    return _Simple("" if tag == "*" else tag.lower(), tuple(ids), tuple(classes), tuple(attrs), tuple(pseudo))


class StyleSheets:
    """The rules of a page's style sheets, indexed by the id, class or tag their rightmost compound needs and,
    for `A B` and `A > B`, by a token A needs on an ancestor, so that a page with thousands of rules and
    elements only tries the rules that could match (as browsers do with their ancestor filters)."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._buckets: dict[str, tuple[list[Rule], dict[str, list[Rule]]]] = {}  # key token -> (free, by ancestor)
        for rule in rules:
            free, by_ancestor = self._buckets.setdefault(_token(rule.key) or "*", ([], {}))
            left = rule.parts[-2][1] if len(rule.parts) > 1 else None
            ancestor = _token(left) if left is not None and rule.parts[-1][0] in (" ", ">") else ""
            if ancestor:
                by_ancestor.setdefault(ancestor, []).append(rule)
            else:
                free.append(rule)

    def _candidates(self, el: etree._Element) -> list[Rule]:
        keys = ["*"]
        if el.get("id"):
            keys.append("#" + (el.get("id") or ""))
        keys += ["." + name for name in set((el.get("class") or "").split())]
        if isinstance(el.tag, str):
            keys.append(el.tag.lower())
        buckets = [self._buckets[k] for k in keys if k in self._buckets]
        if not buckets:
            return []
        found: list[Rule] = []
        above: set[str] | None = None
        for free, by_ancestor in buckets:
            found += free
            if by_ancestor:
                above = _ancestor_tokens(el) if above is None else above
                for token in above & by_ancestor.keys():
                    found += by_ancestor[token]
        return found

    def declarations(self, el: etree._Element) -> Declarations:
        """The cascaded declarations for el: matching rules by importance, specificity and order, then its style
        attribute (which beats any selector unless a rule's declaration is !important and its own is not)."""
        matched = sorted((r for r in self._candidates(el) if r.matches(el)), key=lambda r: (r.specificity, r.order))
        result: Declarations = {}
        inline = parse_declarations(el.get("style") or "")
        for layer in [r.declarations for r in matched] + [inline]:
            for name, (value, important) in layer.items():
                if important or not result.get(name, ("", False))[1]:
                    result[name] = (value, important)
        return result


def _token(simple: _Simple | None) -> str:
    """The most selective thing a compound needs: "#id", ".class" or the tag ("" for none)."""
    if simple is None:
        return ""
    if simple.ids:
        return "#" + simple.ids[0]
    if simple.classes:
        return "." + simple.classes[0]
    return simple.tag


def _ancestor_tokens(el: etree._Element) -> set[str]:
    tokens: set[str] = set()
    for a in el.iterancestors():
        if isinstance(a.tag, str):
            tokens.add(a.tag.lower())
        if a.get("id"):
            tokens.add("#" + (a.get("id") or ""))
        tokens.update("." + name for name in (a.get("class") or "").split())
    return tokens
