"""portal/wiring.py: one module composes the application; importing a module registers nothing.

Both tests run a fresh Python process, because this test process has long been wired (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.releases.conftest import create, load, make_world

ROOT = Path(__file__).resolve().parents[1]

# Imports the tickets domain only (and what it needs: accounts and the core), wires or not, and tries to close.
CLOSE_IN_A_TICKETS_ONLY_PROCESS = r"""
import json, sys

from portal.accounts.models import User
from portal.config import Settings
from portal.db import Database
from portal.errors import Conflict
from portal.tickets import service as tickets

ticket_id, user_id, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
others = sorted({m for m in sys.modules if m.split(".")[:2][-1] in ("releases", "notify", "knowledge", "search")})
if mode == "wire":
    from portal import wiring

    wiring.wire()
db = Database(Settings())
session = db.session(write=True)
try:
    ticket = tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)
    try:
        tickets.change_status(session=session, settings=db.settings, ticket=ticket, actor=session.get(User, user_id),
                              status="closed")
        outcome = {"closed": ticket.status == "closed", "blockers": []}
    except Conflict as exc:
        outcome = {"closed": False, "blockers": exc.extra.get("blockers", [])}
finally:
    session.rollback()  # only the answer matters; the ticket stays as it was for the next run
    session.close()
    db.dispose()
print(json.dumps({**outcome, "other_domains_before_wiring": others}))
"""

IMPORT_EVERYTHING = r"""
import importlib, json, pkgutil

import portal

names = []
for info in pkgutil.walk_packages(portal.__path__, "portal."):
    if info.name == "portal.__main__" or info.name.startswith("portal.migrations"):
        continue  # the command line itself, and Alembic's env (runs migrations when imported)
    module = importlib.import_module(info.name)
    names.append(info.name)

from portal import registry, validation

declared = {id(value) for name in names for value in vars(importlib.import_module(name)).values()
            if isinstance(value, registry.Registry)}
before = {r.name: len(r) for r in registry.REGISTRIES}
labels_before = len(validation.FIELD_LABELS)
from portal import wiring

wiring.wire()
after = {r.name: len(r) for r in registry.REGISTRIES}
wiring.wire()
again = {r.name: len(r) for r in registry.REGISTRIES}
print(json.dumps({"modules": names, "before": before, "labels_before": labels_before, "after": after,
                  "again": again, "labels_after": len(validation.FIELD_LABELS),
                  "unlisted": len(declared - {id(r) for r in registry.REGISTRIES})}))
"""


def _python(code: str, *args: str, env: dict | None = None) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_closing_an_undelivered_fix_is_refused_in_a_process_that_imported_only_tickets_and_wired(
        db, settings, make, content_repo):
    world = make_world(db, settings, make)
    create(db, settings, world.support, package_id="pkg-w", tickets=[world.t_romashka], publish=True)
    from portal.tickets import service as tickets

    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=world.t_romashka)
        for status in ("in_analysis", "resolved"):
            tickets.change_status(session=s, settings=settings, ticket=ticket, actor=load(s, world.support),
                                  status=status, solution="Исправлено в пакете")
    env = {"PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.database_url,
           "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_RUN_JOBS": "false"}
    args = (world.t_romashka, str(world.ivanova.id))

    wired = _python(CLOSE_IN_A_TICKETS_ONLY_PROCESS, *args, "wire", env=env)
    assert wired["other_domains_before_wiring"] == []  # nothing but tickets (and below) was imported
    assert wired["closed"] is False
    assert len(wired["blockers"]) == 1 and "pkg-w" in wired["blockers"][0] and "«ожидает передачи»" in wired["blockers"][0]

    # The same process without the wiring has no guard at all: the refusal above is the wiring's doing.
    unwired = _python(CLOSE_IN_A_TICKETS_ONLY_PROCESS, *args, "bare", env=env)
    assert unwired == {"closed": True, "blockers": [], "other_domains_before_wiring": []}


def test_importing_every_module_registers_nothing_until_the_wiring_runs():
    found = _python(IMPORT_EVERYTHING)
    assert len(found["modules"]) > 80
    assert found["unlisted"] == 0  # every registry a module holds is one the check below sees
    assert {"tickets.close_guards", "tickets.event_listeners", "tickets.page_sections", "dashboard.sections",
            "knowledge.articles_changed", "knowledge.readable_packages", "releases.package_published",
            "releases.delivery_handed_over", "intents.effects", "jobs"} <= set(found["before"])
    assert found["before"] == dict.fromkeys(found["before"], 0)
    assert found["labels_before"] == 0
    assert all(found["after"].values()), found["after"]  # the wiring fills every one of them
    assert found["again"] == found["after"]  # idempotent
    assert found["labels_after"] > 0
