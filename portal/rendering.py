"""One renderer for untrusted text: Markdown → HTML → an allow-list sanitiser (nh3), bounded in time.

Everything a person types — ticket fields, comments, release notes, article bodies, template output —
becomes HTML only through this module:

* ``render_markdown(text)`` — Markdown rendered by Python-Markdown, then sanitised. ``site=`` renders with
  the knowledge-base site's ``markdown_extensions`` (``MarkdownProfile.site(...)``) so the editor preview
  equals the published page; the default profile (``TEXT``) is for people's plain prose (tickets,
  comments, release notes): raw HTML in it is shown as text, line breaks are kept.
* ``sanitize_html(html)`` — for HTML produced elsewhere (MkDocs page content).
* ``plain_text(text)`` — tags stripped, for titles and attributes that need text.

The sanitiser keeps an allow-list of tags and attributes: no script/style/iframe/object/embed/form/svg/
math, no ``on*`` attributes, only ``http``, ``https``, ``mailto`` and ``tel`` URLs besides relative ones
(so no ``javascript:``/``vbscript:``/``data:`` in any spelling — nh3 parses the HTML and the URL as a
browser would), ``class`` only with the values admonitions and code highlighting produce, and links to
other hosts get ``rel="nofollow noopener noreferrer"``.

Cost is bounded because Python-Markdown is super-linear on some inputs (16 KB of ``[`` took 74 s): texts
up to ``INLINE_LIMIT`` characters render in the calling thread (their worst case was measured at
12–50 ms, ``scripts/bench/render.py``), longer ones in a small pool of worker processes (started ahead)
with a deadline of ``RENDER_TIMEOUT`` seconds; a worker that misses it is killed and replaced. Results are kept in an LRU
cache keyed by the SHA-256 of the text and the profile, so page views do not render again. When the
deadline passes, ``render_markdown`` shows the text escaped in a ``<pre>``; with ``strict=True`` (the
preview API) it raises ``RenderTimeout``, a 422 whose message tells the writer what to change.
"""

from __future__ import annotations

import atexit
import hashlib
import html
import json
import multiprocessing
import re
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import markdown
import nh3
from markupsafe import Markup, escape

from portal.errors import Invalid
from portal.i18n import message

# Worst case of Python-Markdown with the site's extensions (scripts/bench/render.py): at 256 characters
# 12–50 ms, at 512 65–250 ms, 1 KB 0.25–0.45 s, 4 KB 3–9 s (quiet and loaded 2-core machine).
INLINE_LIMIT = 256
RENDER_TIMEOUT = 1.5  # seconds for a worker's answer: the 2 s budget of a request less the rest of its work
# A text is remembered as too costly only when a ready worker had at least this long for it.
FAIR_TRIAL = 1.0
POOL_SIZE = 2
# How long a request waits for a render worker that is still starting, before the text's own RENDER_TIMEOUT.
WORKER_START_WAIT = 10.0
CACHE_BYTES = 32 * 1024 * 1024

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    "var", "wbr",
})
# Removed together with their content (the rest of the unknown tags keep their text).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template",
                                  "svg", "math", "frame", "frameset", "noembed", "xmp", "textarea",
                                  "select", "applet"})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"id", "title", "lang", "dir", "class"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "loading"},
    "td": {"align", "colspan", "rowspan", "style"},
    "th": {"align", "colspan", "rowspan", "scope", "style"},
    "col": {"span"}, "colgroup": {"span"},
    "ol": {"start", "type", "reversed"}, "li": {"value"},
    "details": {"open"},
    "abbr": {"title"}, "q": {"cite"}, "blockquote": {"cite"}, "del": {"cite"}, "ins": {"cite"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
EXTERNAL_REL = "nofollow noopener noreferrer"

# Class values the Markdown extensions produce: admonitions and details (their type words), Pygments'
# token classes (short lower-case codes) inside highlighted code, the toc permalink. Anything else a
# writer adds with attr_list is dropped, so they cannot borrow the portal's own classes.
ADMONITION_TYPES = frozenset({
    "note", "abstract", "summary", "tldr", "info", "todo", "tip", "hint", "important", "success", "check",
    "done", "question", "help", "faq", "warning", "caution", "attention", "failure", "fail", "missing",
    "danger", "error", "bug", "example", "quote", "cite", "inline", "end", "left", "right",
})
_CLASSES = {
    "div": ADMONITION_TYPES | {"admonition", "highlight", "codehilite", "md-typeset__table",
                               "tabbed-set", "tabbed-content", "tabbed-block", "tabbed-labels",
                               "arithmatex", "render-fallback"},
    "details": ADMONITION_TYPES, "p": {"admonition-title"}, "a": {"headerlink", "footnote-ref",
                                                                   "footnote-backref"},
    "table": {"highlighttable"}, "td": {"linenos", "code"}, "sup": {"footnote-ref"},
    "pre": {"render-fallback"},
}
_PYGMENTS_CLASS = re.compile(r"[a-z]{1,3}[0-9]?|hll|linenos|lineno|linenodiv|filename|special|normal")
_LANGUAGE_CLASS = re.compile(r"language-[a-z0-9_+-]{1,40}")
_TEXT_ALIGN = re.compile(r"\s*text-align:\s*(left|right|center);?\s*")


def _allowed_class(tag: str, token: str) -> bool:
    if token in _CLASSES.get(tag, ()):
        return True
    if tag in ("span", "code", "pre", "td", "div") and _PYGMENTS_CLASS.fullmatch(token):
        return tag != "div" or token in ("hll",)
    return tag == "code" and bool(_LANGUAGE_CLASS.fullmatch(token))


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if name == "class":
        kept = [token for token in value.split() if _allowed_class(tag, token)]
        return " ".join(kept) or None
    if name == "style":  # Python-Markdown's table alignment is the only style kept
        match = _TEXT_ALIGN.fullmatch(value)
        return f"text-align: {match.group(1)};" if match else None
    return value


_CLEANER_ARGS: dict[str, Any] = dict(
    tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT), attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_attribute_filter, url_schemes=set(URL_SCHEMES), link_rel=None, strip_comments=True,
)
# nh3 normalises its output: attributes double-quoted, ``"`` escaped inside values.
_A_TAG = re.compile(r'<a((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*>')
_HREF = re.compile(r'\shref="([^"]*)"')


def _is_external(href: str) -> bool:
    url = html.unescape(href).strip()
    if url.startswith("//"):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    return bool(parts.scheme) and parts.scheme.lower() in ("http", "https")


def _mark_external(match: re.Match[str]) -> str:
    attrs = match.group(1)
    href = _HREF.search(attrs)
    if href and _is_external(href.group(1)):
        return f'<a{attrs} rel="{EXTERNAL_REL}">'
    return match.group(0)


def _sanitize(text: str) -> str:
    return _A_TAG.sub(_mark_external, nh3.clean(text, **_CLEANER_ARGS))


def sanitize_html(fragment: str) -> Markup:
    """``fragment`` (HTML made elsewhere, e.g. MkDocs page content) reduced to the allow-list; linear time."""
    return Markup(_sanitize(fragment or ""))


def plain_text(text: str) -> str:
    """``text`` with every tag removed and entities decoded: for titles and attributes (escape it there)."""
    return html.unescape(nh3.clean(text or "", tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT)))


# --- Markdown profiles ----------------------------------------------------------------------------

# Only these extension modules may be named in mkdocs.yml for rendering on the server: a name is an
# import, and the file is edited by writers through git.
_BUILTIN_EXTENSIONS = frozenset({
    "abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code", "footnotes",
    "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists", "smarty", "tables", "toc",
    "wikilinks",
})
_EXTENSION_NAME = re.compile(r"(?:markdown\.extensions\.)?([a-z_]+)|(pymdownx\.[a-z_]+)")


def _allowed_extension(name: str) -> bool:
    match = _EXTENSION_NAME.fullmatch(name)
    return match is not None and (bool(match.group(2)) or match.group(1) in _BUILTIN_EXTENSIONS)


@dataclass(frozen=True)
class MarkdownProfile:
    """How Markdown is rendered: its extensions and whether raw HTML in the text is markup or text."""

    extensions: tuple[str, ...]
    configs: str = "{}"  # JSON of {extension: options}: hashable and picklable
    raw_html: bool = False
    key: str = field(init=False, default="")

    def __post_init__(self) -> None:
        digest = hashlib.sha256(json.dumps([self.extensions, self.configs, self.raw_html]).encode()).hexdigest()
        object.__setattr__(self, "key", digest[:16])

    @classmethod
    def site(cls, extensions: Iterable[str], configs: Mapping[str, Mapping[str, Any]] | None = None
             ) -> MarkdownProfile:
        """The site's profile from mkdocs.yml's ``markdown_extensions`` (names, configs); raw HTML allowed
        (then sanitised). Unknown extension modules are skipped; table alignment becomes an ``align``
        attribute so the portal's CSP (no inline styles) keeps it."""
        names = tuple(name for name in extensions if _allowed_extension(name))
        options = {name: dict(value) for name, value in (configs or {}).items() if name in names}
        for table in ("tables", "markdown.extensions.tables"):
            if table in names:
                options.setdefault(table, {}).setdefault("use_align_attribute", True)
        try:
            encoded = json.dumps(options, sort_keys=True, default=str)
        except (TypeError, ValueError):
            encoded = "{}"
        return cls(extensions=names, configs=encoded, raw_html=True)


# People's prose (tickets, comments, release notes): lists, code, links, line breaks as typed; HTML they
# type is shown as text, so a pasted XML config stays readable and nothing in it becomes markup.
TEXT = MarkdownProfile(extensions=("fenced_code", "sane_lists", "nl2br", "tables"),
                       configs=json.dumps({"tables": {"use_align_attribute": True}}, sort_keys=True))
SITE_DEFAULT = MarkdownProfile.site(["admonition", "pymdownx.details", "pymdownx.superfences", "tables",
                                     "toc", "attr_list"], {"toc": {"permalink": True}})


def _convert(text: str, extensions: tuple[str, ...], configs: str, raw_html: bool) -> str:
    md = markdown.Markdown(extensions=list(extensions), extension_configs=json.loads(configs),
                           output_format="html")
    if not raw_html:
        # Raw HTML is then escaped by Markdown itself, in code spans and outside alike.
        for registry, name in ((md.preprocessors, "html_block"), (md.inlinePatterns, "html")):
            if name in registry:
                registry.deregister(name)
    return _sanitize(md.convert(text))


# --- the worker pool ------------------------------------------------------------------------------

class RenderTimeout(Invalid):
    """The text took longer than the deadline to render (a 422 for the preview API)."""

    MESSAGE = message("errors_core.render_timeout")

    def __init__(self, field: str = "body") -> None:
        super().__init__(self.MESSAGE, errors=[{"field": field, "message": self.MESSAGE}])


class _Timeout(Exception):
    def __init__(self, ran: bool) -> None:
        super().__init__("render timeout")
        self.ran = ran  # True: the worker ran out of time on this text (not merely a busy pool)


def _worker_main(conn: Any) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server stops its workers itself (or they see
    # the pipe close), so a worker ignores it rather than printing a traceback beside the server's shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve_renders(conn)
    except (OSError, EOFError):  # BrokenPipeError, ConnectionResetError: the pipe's other end is gone
        return  # the server went away (shut down, or replaced this worker): nothing is waiting for an answer


def _serve_renders(conn: Any) -> None:
    try:  # import the extensions now, so the first text does not pay for it
        _convert("warm *up*", SITE_DEFAULT.extensions, SITE_DEFAULT.configs, SITE_DEFAULT.raw_html)
    finally:
        conn.send(("ready", ""))
    while True:
        job = conn.recv()
        try:
            result = ("ok", _convert(*job))
        except Exception as exc:  # RecursionError on deep nesting, an extension's bug: the caller falls back
            result = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(result)


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="portal-render")
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, deadline: float) -> bool:
        """True once the worker has started (its first message); False if the deadline came first."""
        if not self.ready and self.conn.poll(max(0.0, deadline - time.monotonic())):
            self.conn.recv()
            self.ready = True
        return self.ready

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class _Pool:
    """A few long-lived render processes; one that misses its deadline is killed and replaced."""

    def __init__(self, size: int) -> None:
        # spawn, not fork: the web process has threads (a forked child could inherit a held lock).
        self._ctx = multiprocessing.get_context("spawn")
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        # Started ahead, so interpreter start-up is not paid inside a request's deadline.
        self._idle: list[_Worker] = [_Worker(self._ctx) for _ in range(size)]

    def run(self, job: tuple, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise _Timeout(ran=False)
        worker: _Worker | None = None
        try:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.process.is_alive():
                worker = _Worker(self._ctx)
            # A worker still starting (the first requests after the server starts, or right after a replacement
            # on a busy machine) is waited for apart from the text's own time: otherwise an ordinary text would
            # be shown as raw Markdown just because the interpreter was slow to start.
            started = time.monotonic()
            if not worker.wait_ready(started + WORKER_START_WAIT):
                raise _Timeout(ran=False)  # it stays in the pool; the text is not to blame
            given = deadline + (time.monotonic() - started) - time.monotonic()  # the start-up is not counted
            worker.conn.send(job)
            if not worker.conn.poll(max(0.0, given)):
                worker.kill()
                worker = _Worker(self._ctx)  # the replacement starts now and waits idle
                raise _Timeout(ran=given >= FAIR_TRIAL)
            status, result = worker.conn.recv()
            if status != "ok":
                raise RuntimeError(result)
            return result
        except (EOFError, OSError):  # the worker died: not the text's fault, so nothing is remembered
            if worker is not None:
                worker.kill()
                worker = None
            raise _Timeout(ran=False) from None
        finally:
            if worker is not None:
                with self._lock:
                    self._idle.append(worker)
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def warm_up() -> None:
    """Start the render workers now (the web process calls this at start-up, before the first request)."""
    _get_pool()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(POOL_SIZE)
            atexit.register(_pool.close)
        return _pool


# --- the cache ------------------------------------------------------------------------------------

class _Cache:
    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: str) -> None:
        size = len(value) + len(key)
        if size > self._max:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += size
            while self._bytes > self._max:
                old_key, old = self._items.popitem(last=False)
                self._bytes -= len(old) + len(old_key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_cache = _Cache(CACHE_BYTES)
_FAILED = "\0"  # prefix of a cached fallback: the text could not be rendered in time


def fallback_html(text: str) -> Markup:
    """The text escaped in a ``<pre>``: what readers see when rendering failed or ran out of time."""
    return Markup('<pre class="render-fallback">') + escape(text) + Markup("</pre>")


def render_markdown(text: str | None, *, profile: MarkdownProfile = TEXT, strict: bool = False,
                    timeout: float | None = None) -> Markup:
    """``text`` (untrusted Markdown) as sanitised HTML.

    Texts longer than ``INLINE_LIMIT`` characters render in a worker process within ``timeout``
    (``RENDER_TIMEOUT``) seconds. Past it, or when Markdown fails, the escaped text in a ``<pre>`` is
    returned — or, with ``strict``, ``RenderTimeout`` (422) is raised for the caller to tell the writer.
    """
    text = text or ""
    if not text.strip():
        return Markup("")
    key = profile.key + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    cached = _cache.get(key)
    if cached is not None:
        if cached.startswith(_FAILED):  # this text failed or ran out of time before
            if strict:
                raise RenderTimeout()
            return Markup(cached[len(_FAILED):])
        return Markup(cached)
    job = (text, profile.extensions, profile.configs, profile.raw_html)
    try:
        if len(text) <= INLINE_LIMIT:
            result = _convert(*job)
        else:
            result = _get_pool().run(job, RENDER_TIMEOUT if timeout is None else timeout)
    except _Timeout as exc:
        if strict:
            raise RenderTimeout() from None
        fallback = fallback_html(text)
        if exc.ran:  # the text itself is too costly: remember that, so page views do not try again
            _cache.put(key, _FAILED + fallback)
        return fallback
    except Exception:  # RecursionError on deep nesting, a broken extension option: show the text instead
        if strict:
            raise RenderTimeout() from None
        fallback = fallback_html(text)
        _cache.put(key, _FAILED + fallback)
        return fallback
    _cache.put(key, result)
    return Markup(result)
