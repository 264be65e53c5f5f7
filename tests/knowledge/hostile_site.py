"""Hostile knowledge-base content for the site-edition tests: articles whose title, summary, tags, module and
body carry the hostile-markup corpus, an article drafted from a customer's hostile ticket, a section whose
index title is hostile, an internal canary; and a checker of built HTML and search index entries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from portal.content import Author
from portal.knowledge import articles, frontmatter, service
from tests import hostile

# Every vector that executes sets window.__xss (or opens a dialog), which the browser test watches.
P = "window.__xss=1"
# Beyond tests/hostile.py: the Markdown extensions of the site (attr_list, toc labels), headings.
OWN_CORPUS = [
    f"<script>{P}</script>",
    f"<img src=x onerror={P}>",
    "<img src=x onerror=alert(1)>",
    f"<svg onload={P}>",
    f"<svg/onload={P}>",
    f"<svg><script>{P}</script></svg>",
    '<iframe src="javascript:top.__xss=1"></iframe>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    f'<a href="javascript:{P}">ссылка</a>',
    f'<a href="JaVaScRiPt:{P}">ссылка</a>',
    f'<a href="jav&#x09;ascript:{P}">ссылка</a>',
    f'<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{P}">ссылка</a>',
    f'<a href=" &#14; javascript:{P}">ссылка</a>',
    f'<a href="javascript&colon;{P}">ссылка</a>',
    '<a href="vbscript:msgbox(1)">ссылка</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">ссылка</a>',
    f"[ссылка Markdown](javascript:{P})",
    f"[ссылка Markdown](JAVASCRIPT:{P})",
    f"[ссылка Markdown](javascript&#58;{P})",
    "[ссылка <data>](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    f"![картинка](javascript:{P})",
    f"<javascript:{P}>",
    f"<body onload={P}>",
    f"<details open ontoggle={P}>",
    f"<input autofocus onfocus={P}>",
    f"<select autofocus onfocus={P}>",
    f"<textarea autofocus onfocus={P}>",
    f"<marquee onstart={P}>",
    f"<video><source onerror={P}></video>",
    f"<audio src=x onerror={P}>",
    f'<div onmouseover="{P}">наведите</div>',
    f"<x onclick={P}>щёлкните",
    f"<math><mtext><table><mglyph><style><img src=x onerror={P}></style></mglyph></table></mtext></math>",
    f'<math href="javascript:{P}">формула</math>',
    f'<math><maction actiontype="statusline" xlink:href="javascript:{P}">x</maction></math>',
    f'<svg><a xlink:href="javascript:{P}"><text x="20" y="20">svg</text></a></svg>',
    f"<svg><animate onbegin={P} attributeName=x dur=1s>",
    f'<svg><set attributeName="href" to="javascript:{P}"/></svg>',
    '<svg><foreignObject><iframe src="javascript:parent.__xss=1"></iframe></foreignObject></svg>',
    f'<object data="javascript:{P}"></object>',
    f'<embed src="javascript:{P}">',
    f'<form action="javascript:{P}"><button>отправить</button></form>',
    f'<button formaction="javascript:{P}">кнопка</button>',
    f'<style>@import "javascript:{P}";</style>',
    '<div style="background:url(javascript:alert(1))">фон</div>',
    f'<meta http-equiv="refresh" content="0;url=javascript:{P}">',
    '<base href="javascript:/">',
    f'<link rel="import" href="data:text/html,<script>{P}</script>">',
    f'"><script>{P}</script>',
    f"'><img src=x onerror={P}>",
    f"</title><script>{P}</script>",
    f"</textarea><script>{P}</script>",
    f"<<script>{P}//<</script>",
    f"<scr<script>ipt>{P}</scr</script>ipt>",
    f'<img """><script>{P}</script>">',
    f"<IMG SRC=javascript:{P}>",
    "<img src=x onerror=&#119;indow.__xss=1>",
    f'<!--<img src="--><img src=x onerror={P}//">',
    f'<noscript><p title="</noscript><img src=x onerror={P}>">',
    f"<template><script>{P}</script></template>",
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    f'абзац\n{{: onclick="{P}" }}',
    f"## Заголовок <img src=x onerror={P}>",
    f'## Метка оглавления {{ data-toc-label="<img src=x onerror={P}>" }}',
    f"`<code>` и {{{{ {P} }}}} и ${{{P}}}",
]


def corpus() -> list[str]:
    """The shared hostile-markup corpus (tests/hostile.py) and the vectors particular to the site."""
    return list(dict.fromkeys(hostile.CORPUS + OWN_CORPUS))


@dataclass
class Published:
    titles: list[str] = field(default_factory=list)  # as typed
    first: str = ""  # docs path of the first hostile article
    from_ticket: str = ""  # docs path of the article drafted from the customer's ticket
    hostile_section: str = "hostile"
    canary: str = "Канарейка-внутренняя-4711"


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit].strip() or "x"


def publish_hostile(*, db, settings, content_repo, writer, customer, resolved_ticket) -> Published:
    """One commit of hostile articles (a writer's push to the content repository), one article drafted from a
    customer's hostile ticket and published through the portal, and an internal canary."""
    vectors = corpus()
    out = Published()
    files: dict[str, str] = {}
    section = out.hostile_section
    files[f"{articles.KB_DIR}/{section}/index.md"] = frontmatter.join(
        {"title": f"Раздел <img src=x onerror={P}> «{section}»"},
        f"# Раздел\n\n{vectors[0]}\n")
    for i, vector in enumerate(vectors):
        title = _one_line(vector, 200)
        meta = {"title": title, "summary": _one_line(vectors[(i + 1) % len(vectors)], 500), "kind": "problem",
                "module": _one_line(vectors[(i + 2) % len(vectors)], 100), "visibility": "customers",
                "status": "published", "tags": [_one_line(vectors[(i + k) % len(vectors)], 120) for k in (0, 3)],
                "product_versions": ["5.2"], "authors": ["sokolova"]}
        body = "\n\n".join(vectors[(i + k) % len(vectors)] for k in range(0, len(vectors), 7)) + "\n"
        files[f"{articles.KB_DIR}/{section}/hostile-{i:03d}.md"] = frontmatter.join(meta, body)
        out.titles.append(title)
    out.first = f"{section}/hostile-000.md"
    canary = {"title": f"{out.canary} <img src=x onerror={P}>", "summary": out.canary, "kind": "problem",
              "visibility": "internal", "status": "published", "tags": [out.canary]}
    files[f"{articles.KB_DIR}/{section}/internal-canary.md"] = frontmatter.join(
        canary, f"## Разбор\n\n{out.canary} в тексте.\n")
    with content_repo.write_lock():
        content_repo.commit_files(files=files, message="Статьи с враждебной разметкой",
                                  author=Author("Мария Соколова", "sokolova@primoart.example"))

    # A customer's words reach an article through "article from ticket".
    ticket_id = resolved_ticket(customer, summary=f"Не работает <img src=x onerror={P}>",
                                description="\n".join(vectors[:20]), steps_to_reproduce=vectors[20])
    with db.session_scope() as session:
        drafted = service.create_from_ticket(session=session, settings=settings, actor=writer,
                                             ticket_id=ticket_id, kind="problem", section="problems")
    with db.session_scope() as session:
        service.publish_article(session=session, settings=settings, actor=writer, slug=drafted.slug)
    out.from_ticket = f"{drafted.section}/{drafted.slug}.md"
    return out


# --- checking built output ------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
                  "srcset", "cite", "codebase", "ping"}
BAD_SCHEME = re.compile(r"^\s*(javascript|vbscript|data|livescript):", re.I)
# Never part of a page, the theme's chrome included.
FOREIGN_TAGS = {"iframe", "object", "embed", "frame", "frameset", "applet", "base", "math", "portal"}
EXECUTABLE_TAGS = {"iframe", "object", "embed", "frame", "frameset", "applet", "base", "meta", "link", "style",
                   "svg", "math", "form", "button", "input", "textarea", "select", "template", "noscript"}


def _url_scheme_text(value: str) -> str:
    # What a browser's URL parser does: C0 controls and spaces stripped at both ends, tab and newlines removed
    # anywhere (a space inside "java script:" leaves no scheme, so that URL is relative and harmless).
    return re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21))))


class _Finder(HTMLParser):
    """Executable markup in an HTML document: script tags other than the theme's files and its JSON config,
    on* attributes, script URLs; ``theme`` allows the theme's own elements (a built page's head and chrome)."""

    def __init__(self, *, theme_scripts: bool):
        super().__init__(convert_charrefs=True)
        self.theme_scripts = theme_scripts
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script":
            src = values.get("src") or ""
            theme_file = bool(re.fullmatch(r"(/kb/|(\.\./)*)assets/javascripts/[\w./-]+\.js", src))
            config = values.get("type") == "application/json" and values.get("id") == "__config"
            if not (self.theme_scripts and (theme_file or config)):
                self.problems.append(f"<script {values}>")
        if tag in FOREIGN_TAGS or (tag == "meta" and "http-equiv" in values):
            self.problems.append(f"<{tag} {values}>")
        for name, value in attrs:
            if name.lower().startswith("on") or name.lower() == "srcdoc":
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name.lower() in URL_ATTRIBUTES and value and BAD_SCHEME.match(_url_scheme_text(value)):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def executable_markup(html: str, *, page: bool) -> list[str]:
    """What in ``html`` could run script; ``page``: a whole built page (the theme's chrome is allowed)."""
    finder = _Finder(theme_scripts=page)
    finder.feed(html)
    finder.close()
    problems = finder.problems
    if not page:
        found = {m.lower() for m in re.findall(r"<\s*([a-zA-Z][\w:-]*)", html)}
        problems += [f"<{t}>" for t in found & (EXECUTABLE_TAGS | {"script"})]
    return problems


def article_part(html: str) -> str:
    """The page's content: what the hooks sanitised (the theme's own form and inputs are outside it)."""
    match = re.search(r'<article class="md-content__inner md-typeset">(.*?)(<aside class="md-source-file">|</article>)',
                      html, re.S)
    return match.group(1) if match else ""


def check_edition(root: Path) -> list[str]:
    """Every problem in every built page and search index entry of an edition, with where it is."""
    problems: list[str] = []
    for path in sorted(root.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        rel = path.relative_to(root)
        problems += [f"{rel}: {p}" for p in executable_markup(html, page=True)]
        problems += [f"{rel} (article): {p}" for p in executable_markup(article_part(html), page=False)]
        problems += [f"{rel} (article): {p}" for p in hostile.executable_markup(article_part(html))]
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        if title and "<" in title.group(1):
            problems.append(f"{rel}: markup in <title>: {title.group(1)!r}")
    index = json.loads((root / "search" / "search_index.json").read_text(encoding="utf-8"))
    for doc in index["docs"]:
        for key in ("title", "text"):
            problems += [f"search {doc['location']} {key}: {p}"
                         for p in executable_markup(doc.get(key, ""), page=False)
                         + hostile.executable_markup(doc.get(key, ""))]
        for tag in doc.get("tags", []):
            if "<" in tag:
                problems.append(f"search {doc['location']} tag with markup: {tag!r}")
    return problems
