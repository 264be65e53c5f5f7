"""Every e-mail template with hostile values: the HTML part holds no executable markup."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from portal.config import Settings
from portal.notify import templates
from tests.hostile import CORPUS, executable_markup

WHEN = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def _context(kind: str, value: str) -> dict:
    ticket = SimpleNamespace(id=value, summary=value, module=value, product_version=value, priority="high",
                             sla_reaction_due=WHEN, registered_at=WHEN, eta=WHEN)
    package = SimpleNamespace(name=value, title=value, version=value,
                              files=[SimpleNamespace(name=value, sha256=value)])
    return {
        "ticket": ticket, "package": package, "link": "https://portal.example/tickets/PRM-2026-00001", "organization_name": value, "reason": value,
        "comment": value, "ticket_ids": [value, value], "request": value,
        "previous": WHEN if kind == "eta_set" else "low", "solution": value, "workaround": value,
        "requested_at": WHEN, "recipient_name": value, "left": value, "channel": value, "author": value,
        "articles": [SimpleNamespace(url="https://portal.example/kb/a/", title=value)], "missing": [value], "corrected": True,
        # a merge, a withdrawal or replacement notice and its reminder
        "duplicate_id": value, "comments": 2, "attachments": [value], "sent_at": WHEN,
        "board": "https://portal.example/deliveries", "replacement": SimpleNamespace(
            name=value, title=value, link="https://portal.example/packages/p-2"),
        "staff": kind in ("sla_approaching", "sla_breached", "critical_ticket"),
    }


@pytest.mark.parametrize("kind", sorted(templates.KINDS))
def test_html_part_of_every_message_holds_no_executable_markup(kind, tmp_path):
    settings = Settings(home=tmp_path)
    # The layout's own <meta charset> and <title> are the portal's; links are made by the portal.
    baseline = executable_markup(templates.render(kind, settings=settings, context=_context(kind, "x")).html)
    assert baseline == ["<meta>", "<title>"]
    for value in CORPUS:
        rendered = templates.render(kind, settings=settings, context=_context(kind, value))
        assert executable_markup(rendered.html) == baseline, (kind, value)
        assert "\n" not in rendered.subject
    # The value really reaches the message (a template that dropped it would pass for nothing).
    rendered = templates.render(kind, settings=settings, context=_context(kind, "<b>Ромашка</b>"))
    assert "&lt;b&gt;Ромашка&lt;/b&gt;" in rendered.html
