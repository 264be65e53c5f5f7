"""portal/rendering.py: the one renderer for untrusted text — sanitising, links, the time bound, the cache."""

from __future__ import annotations

import time

import markdown
import pytest

from portal import rendering
from portal.knowledge import templates as kb_templates
from tests.hostile import CORPUS, executable_markup

PROFILES = {"text": rendering.TEXT, "site": rendering.SITE_DEFAULT}


def test_the_corpus_is_hostile_enough():
    assert len(CORPUS) >= 60
    # Without the sanitiser, Python-Markdown passes most of it through as live markup: the checker sees it.
    live = [s for s in CORPUS if executable_markup(markdown.markdown(s, extensions=["attr_list"]))]
    assert len(live) >= 60


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_rendered_corpus_holds_no_executable_markup(text, profile):
    out = str(rendering.render_markdown(text, profile=PROFILES[profile]))
    assert executable_markup(out) == [], out


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_sanitized_corpus_holds_no_executable_markup(text):
    out = str(rendering.sanitize_html(text))
    assert executable_markup(out) == [], out


def test_whole_corpus_in_one_body():
    body = "\n\n".join(CORPUS)
    for profile in PROFILES.values():
        out = str(rendering.render_markdown(body, profile=profile, timeout=30))
        assert executable_markup(out) == []


def test_plain_prose_keeps_html_as_text_and_line_breaks():
    out = str(rendering.render_markdown('<agent enabled="true">\nline two\n\n`<b>`', profile=rendering.TEXT))
    assert "&lt;agent enabled=" in out and "<br>" in out and "<code>&lt;b&gt;</code>" in out


def test_site_profile_keeps_admonitions_code_tables_and_permalinks():
    body = ('# Title\n\n!!! success "Решение"\n    done\n\n??? tip "Tip"\n    t\n\n'
            '```python\ndef f(): pass\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\ntext\n{: .btn #mine }\n')
    out = str(rendering.render_markdown(body, profile=rendering.SITE_DEFAULT))
    assert '<div class="admonition success">' in out and '<p class="admonition-title">Решение</p>' in out
    assert '<details class="tip">' in out and '<div class="highlight">' in out and 'class="k"' in out
    assert 'align="left"' in out and "style=" not in out
    assert 'class="headerlink" href="#title"' in out
    assert "btn" not in out  # attr_list cannot borrow the portal's classes


def test_links_other_hosts_get_rel_and_own_links_do_not():
    out = str(rendering.render_markdown(
        "[a](https://example.com/x) [b](//example.org) [c](/kb/x/) [d](other.md) [e](mailto:x@example.com) "
        "![img](images/shot.png)", profile=rendering.SITE_DEFAULT))
    assert '<a href="https://example.com/x" rel="nofollow noopener noreferrer">a</a>' in out
    assert '<a href="//example.org" rel="nofollow noopener noreferrer">b</a>' in out
    assert '<a href="/kb/x/">c</a>' in out and '<a href="other.md">d</a>' in out
    assert '<a href="mailto:x@example.com">e</a>' in out
    assert '<img alt="img" src="images/shot.png">' in out


def test_writer_rel_and_target_are_not_kept():
    out = str(rendering.sanitize_html('<a href="https://e.example" rel="opener" target="_blank">x</a>'))
    assert out == '<a href="https://e.example" rel="nofollow noopener noreferrer">x</a>'


def test_plain_text_strips_tags_and_scripts():
    assert rendering.plain_text("<b>Ошибка</b> &lt;503&gt;<script>alert(1)</script>") == "Ошибка <503>"


def test_unknown_extension_modules_are_not_imported():
    profile = rendering.MarkdownProfile.site(["os", "tables", "pymdownx.details", "tests.hostile"], {})
    assert profile.extensions == ("tables", "pymdownx.details")


def test_pathological_body_answers_in_time_and_is_cached():
    body = "[" * 16_000  # took 74 s before the bound
    started = time.monotonic()
    out = rendering.render_markdown(body)
    elapsed = time.monotonic() - started
    assert str(out).startswith('<pre class="render-fallback">[[[')
    assert elapsed < 10  # generous for a loaded machine; the bound itself is RENDER_TIMEOUT
    with pytest.raises(rendering.RenderTimeout) as caught:
        rendering.render_markdown(body, strict=True)
    assert caught.value.status_code == 422 and "«[»" in caught.value.detail
    # the pool replaced its worker: the next long text renders normally (given time for the new process
    # to start on a busy machine; a fallback shown meanwhile is not remembered)
    assert str(rendering.render_markdown("слово " * 400, timeout=30)).startswith("<p>слово")


def test_deep_nesting_falls_back_instead_of_failing():
    out = str(rendering.render_markdown("  - " * 3000))
    assert out.startswith('<pre class="render-fallback">')


def test_fallback_is_escaped():
    body = "[" * 16_000 + "<img src=x onerror=alert(1)>"
    out = str(rendering.render_markdown(body))
    assert executable_markup(out) == [] and "&lt;img" in out


def test_article_from_ticket_quotes_ticket_text():
    facts = kb_templates.TicketFacts(
        id="PRM-2026-00001", kind="problem", module="<b>m</b>", product_version="5.2", summary="s",
        description="<img src=x onerror=alert(1)> & **важно**", steps_to_reproduce="", priority="high",
        status="resolved", cause="", solution="", workaround="", fixed_in=[], url="http://x/tickets/1")
    quoted = kb_templates.quote_html(facts.description)
    assert quoted == "&lt;img src=x onerror=alert(1)&gt; &amp; **важно**"
    out = str(rendering.render_markdown(quoted, profile=rendering.SITE_DEFAULT))
    assert "&lt;img src=x onerror=alert(1)&gt;" in out and "<strong>важно</strong>" in out
    assert executable_markup(out) == []


def test_a_worker_still_starting_is_waited_for_apart_from_the_texts_time(monkeypatch):
    # Right after the server starts, the render workers are still importing Markdown. An ordinary long text
    # must then be rendered once they are ready, not shown as raw Markdown because start-up ate its time.
    fresh = rendering._Pool(1)
    monkeypatch.setattr(rendering, "_pool", fresh)
    text = "## Причина\n\n**Агент** загружал модуль через `eval()`.\n\n" + "Обычный абзац текста. " * 40
    try:
        html = rendering.render_markdown(text, timeout=0.3)  # far less than a worker's start-up
    finally:
        fresh.close()
    assert "<h2>" in html and "<strong>Агент</strong>" in html and "<pre" not in html
