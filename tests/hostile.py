"""A hostile-markup corpus: strings that try to run script when a portal page, the site or an e-mail shows
them. Taken from OWASP's XSS filter-evasion cheat sheet, SVG and MathML vectors, ``javascript:`` in every
URL form the browsers accept, Markdown links, images, reference links and autolinks, broken tags.

Each executable vector calls ``alert(1)`` and, where it can, sets ``window.__xss`` — a browser test asserts
that no dialog opened and that ``window.__xss`` stayed undefined.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

X = "window.__xss=1;alert(1)"

CORPUS: list[str] = [
    # plain script and style
    f"<script>{X}</script>",
    f"<SCRIPT SRC=//evil.example/xss.js></SCRIPT><script>{X}</script>",
    f"<scr<script>ipt>{X}</scr</script>ipt>",
    f"<script/xss>{X}</script>",
    f"<<SCRIPT>{X}//<</SCRIPT>",
    f"<style>@import 'javascript:{X}';</style>",
    f"<style>body{{background:url(\"javascript:{X}\")}}</style>",
    f'<div style="background-image: url(javascript:{X})">x</div>',
    f'<div style="width: expression({X});">x</div>',
    # images and event handlers
    f"<img src=x onerror={X}>",
    f'<img src="x" onerror="{X}">',
    f"<IMG SRC=# onmouseover=\"{X}\">",
    "<img src=x:alert(1) onerror=eval(src)>",
    f'<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058{X}">',
    f"<IMG \"\"\"><SCRIPT>{X}</SCRIPT>\">",
    f"<img/src=x/onerror={X}>",
    f"<body onload={X}>",
    f"<input autofocus onfocus={X}>",
    f"<details open ontoggle={X}>",
    f"<video><source onerror=\"{X}\">",
    f"<audio src=x onerror={X}>",
    f"<marquee onstart={X}>x</marquee>",
    f"<div onpointerover={X}>hover</div>",
    f"<a href=# onclick={X}>click</a>",
    f"<select autofocus onfocus={X}>",
    f"<textarea autofocus onfocus={X}>",
    f"<keygen autofocus onfocus={X}>",
    # javascript: URLs in every form
    f"<a href=\"javascript:{X}\">link</a>",
    f"<a href=\"JaVaScRiPt:{X}\">link</a>",
    f"<a href=\"  javascript:{X}\">link</a>",
    f"<a href=\"java\tscript:{X}\">link</a>",
    f"<a href=\"java\nscript:{X}\">link</a>",
    f"<a href=\"java&#x09;script:{X}\">link</a>",
    f"<a href=\"java&#x0A;script:{X}\">link</a>",
    f"<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{X}\">link</a>",
    f"<a href=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;{X}\">link</a>",
    f"<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058{X}\">l</a>",
    f"<a href=\"javascript&colon;{X}\">link</a>",
    "<a href=\"vbscript:msgbox(1)\">vb</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    f"<a href=\"data:text/html,<script>{X}</script>\">data</a>",
    f"<iframe src=\"javascript:{X}\"></iframe>",
    f"<iframe srcdoc=\"<script>{X}</script>\"></iframe>",
    f"<object data=\"javascript:{X}\"></object>",
    f"<embed src=\"javascript:{X}\">",
    f"<form action=\"javascript:{X}\"><button>go</button></form>",
    f"<button formaction=\"javascript:{X}\">go</button>",
    f"<math><a xlink:href=\"javascript:{X}\">m</a></math>",
    f"<math href=\"javascript:{X}\">CLICKME</math>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={X}>",
    f"<isindex action=\"javascript:{X}\" type=image>",
    f"<base href=\"javascript:{X}//\">",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{X}\">",
    f"<link rel=stylesheet href=\"javascript:{X}\">",
    # SVG
    f"<svg onload={X}>",
    f"<svg><script>{X}</script></svg>",
    f"<svg><a xlink:href=\"javascript:{X}\"><text x=20 y=20>XSS</text></a></svg>",
    f"<svg><animate onbegin={X} attributeName=x dur=1s>",
    f"<svg><set attributeName=onmouseover to={X}>",
    f"<svg><foreignObject><iframe src=javascript:{X}></iframe></foreignObject></svg>",
    f"<svg><use href=\"data:image/svg+xml,<svg id='x' xmlns='http://www.w3.org/2000/svg'><image href='1' onerror='{X}'/></svg>#x\"/></svg>",
    # Markdown links, images, reference links, autolinks
    f"[x](javascript:{X})",
    f"[x](JAVASCRIPT:{X})",
    f"[x]( javascript:{X} )",
    f"[x](<javascript:{X}>)",
    f"[x](java&#x09;script:{X})",
    f"[x](&#106;avascript:{X})",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    f"![x](javascript:{X})",
    f"![x\" onerror=\"{X}](x)",
    f"![x](x\" onerror=\"{X})",
    f"[x][r]\n\n[r]: javascript:{X}",
    f"[x][r]\n\n[r]: <javascript:{X}> \"t\"",
    f"<javascript:{X}>",
    "<vbscript:msgbox(1)>",
    f"[x](https://example.com\" onclick=\"{X})",
    f"[x](#){{: onclick=\"{X}\" }}",
    f"para\n{{: onmouseover=\"{X}\" }}",
    f"## Heading {{: onclick=\"{X}\" }}",
    f"`code` <img src=x onerror={X}> `more`",
    f"```\n</code><img src=x onerror={X}>\n```",
    f"!!! note \"<img src=x onerror={X}>\"\n    body",
    f"??? tip \"<svg onload={X}>\"\n    body",
    # broken, unclosed and nested tags
    f"<img src=x onerror={X}",
    f"<a href=\"javascript:{X}",
    f"<<img src=x onerror={X}>>",
    f"<!--<img src=\"--><img src=x onerror={X}//\">",
    f"<![CDATA[<img src=x onerror={X}>]]>",
    f"<noscript><p title=\"</noscript><img src=x onerror={X}>\"></noscript>",
    f"<template><img src=x onerror={X}></template>",
    f"<xmp><img src=x onerror={X}></xmp>",
    f"<title><img src=x onerror={X}></title>",
    f"<div <img src=x onerror={X}>>",
    f"\"><img src=x onerror={X}>",
    f"'><script>{X}</script>",
    f"</textarea><script>{X}</script>",
    f"</title><script>{X}</script>",
    f"{{{{7*7}}}}<img src=x onerror={X}>",
]

FORBIDDEN_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "form", "svg", "math", "base",
                            "meta", "link", "frame", "frameset", "applet", "input", "button", "textarea",
                            "select", "video", "audio", "source", "isindex", "keygen", "template",
                            "noscript", "marquee", "title", "xmp"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc", "poster",
                            "background", "cite", "srcset", "to", "values"})
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            if name == "style" and value and re.search(r"url\(|expression|javascript", value, re.I):
                self.problems.append(f"{tag}[style={value!r}]")
            if name in URL_ATTRIBUTES and value is not None:
                # What a browser's URL parser does with the value: entities decoded, leading and trailing
                # C0 controls and spaces stripped, tabs and newlines removed anywhere, scheme compared
                # case-insensitively.
                url = re.sub(r"[\t\n\r]", "", html.unescape(value)).strip(_C0_AND_SPACE).lower()
                if url.startswith(BAD_SCHEMES):
                    self.problems.append(f"{tag}[{name}={value!r}]")

    handle_startendtag = handle_starttag


def executable_markup(fragment: str) -> list[str]:
    """What in ``fragment`` (HTML) could run script: forbidden tags, on* attributes, script URLs."""
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector.problems
