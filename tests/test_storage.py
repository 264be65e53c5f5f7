"""portal/storage.py: the core learns which columns refer to blobs from the wiring, never from the domains.

Run in a fresh Python process, because this test process has long been wired (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOB_BOOKKEEPING = r"""
import json, sys

from portal import storage
from portal.config import Settings
from portal.db import Database

db = Database(Settings())
domains = lambda: sorted({m.split(".")[1] for m in sys.modules
                          if m.split(".")[:2][-1] in ("releases", "notify", "tickets", "knowledge", "search")})
out = {"domains_imported": domains()}
with db.session_scope(write=False) as session:
    try:
        storage.referenced(session)
        out["unwired"] = "swept"
    except RuntimeError as exc:
        out["unwired"] = str(exc)
    out["domains_after_unwired_sweep"] = domains()

    from portal import wiring

    wiring.wire()
    out["columns"] = sorted(f"{r.column.class_.__tablename__}.{r.column.key}" for r in storage.REFERENCES)
    out["referenced"] = sorted(storage.referenced(session))
db.dispose()
print(json.dumps(out))
"""


def test_storage_imports_no_domain_and_refuses_to_sweep_until_the_wiring_names_the_blob_columns(db, settings):
    env = {**os.environ, "PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.database_url,
           "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_RUN_JOBS": "false"}
    result = subprocess.run([sys.executable, "-c", BLOB_BOOKKEEPING], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["domains_imported"] == []
    # Unwired, every blob would look unreferenced: the sweep refuses instead of removing them all.
    assert "wire()" in found["unwired"]
    assert found["domains_after_unwired_sweep"] == []
    assert found["columns"] == ["intake_messages.raw_sha256", "package_files.sha256", "ticket_attachments.sha256"]
    assert found["referenced"] == []
