"""The Content-Security-Policy of the portal's pages: no inline script may run, whoever is signed in."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.factories import PASSWORD

SKIP = ("/logout", "/kb/", "/static/", "/api/v1/")  # /kb/ (site editions) sets a CSP of its own
LINK = re.compile(r'href="(/[^"#]*)"')


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (p.split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def _assert_strict(url: str, policy: str) -> None:
    d = _directives(policy)
    assert "'unsafe-inline'" not in d.get("script-src", d.get("default-src", [])), url
    assert "'unsafe-eval'" not in d.get("script-src", []), url
    assert d.get("script-src") == ["'self'"], url
    assert d.get("object-src") == ["'none'"], url
    assert d.get("base-uri") == ["'none'"], url
    assert d.get("frame-ancestors") == ["'none'"], url


def _sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/login", follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/", "csrf_token": token})
    assert r.status_code == 303


def _crawl(client: httpx.Client, limit: int = 80) -> dict[str, str]:
    """Every page reachable by links from the dashboard (GET only), with its CSP."""
    seen: dict[str, str] = {}
    queue = ["/"]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or path.startswith(SKIP):
            continue
        r = client.get(path)
        seen[path] = r.headers.get("content-security-policy", "")
        if "text/html" in r.headers.get("content-type", ""):
            for link in LINK.findall(r.text):
                target = urlsplit(urljoin(path, link)).path
                if target not in seen and not target.startswith(SKIP):
                    queue.append(target)
    return seen


@pytest.mark.parametrize("role", ["customer", "support", "writer", "admin"])
def test_every_page_has_a_strict_csp(role, live_server, make):
    user = make.user(role)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        _sign_in(client, user.username)
        pages = _crawl(client)
    assert len(pages) >= 5, pages
    for path, policy in pages.items():
        _assert_strict(path, policy)


def test_anonymous_pages_and_errors_have_a_strict_csp(client):
    for path in ("/login", "/tickets/PRM-2026-99999", "/no-such-page"):
        _assert_strict(path, client.get(path).headers["content-security-policy"])


def test_api_docs_start_swagger_from_a_file(client):
    r = client.get("/api/docs")
    policy = r.headers["content-security-policy"]
    _assert_strict("/api/docs", policy)
    assert "<script>" not in r.text and '<script src="/static/api-docs.js"></script>' in r.text
    assert client.get("/static/api-docs.js").status_code == 200


def test_no_template_holds_inline_script_handlers_or_styles():
    from portal import web

    offenders = []
    for path in sorted(web.TEMPLATES.rglob("*.html")):
        if "email" in path.parts:  # e-mail is not a page: clients need inline styles, no script runs there
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) \
                or "javascript:" in text or re.search(r"\sstyle\s*=", text) or "<style" in text:
            offenders.append(str(path.relative_to(web.TEMPLATES)))
    assert offenders == []
