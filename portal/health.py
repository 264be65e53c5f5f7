"""GET /healthz: database, data home and content repository, each checked; 503 names what fails."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from portal import migrate
from portal.content import ContentRepo

router = APIRouter(tags=["health"])


def check_all(app) -> dict[str, str]:
    settings, db = app.state.settings, app.state.db
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        migrate.check_schema(db)
        checks["database"] = "ok"
    except Exception as exc:  # every failure becomes a named, readable reason
        checks["database"] = f"fail: {exc}"
    home = settings.home_path
    if not home.is_dir():
        checks["data_home"] = f"fail: {home} does not exist"
    elif not os.access(home, os.W_OK):
        checks["data_home"] = f"fail: {home} is not writable"
    else:
        checks["data_home"] = "ok"
    try:
        head = ContentRepo(settings).check()
        checks["content_repository"] = "ok"
        checks["content_head"] = head
    except Exception as exc:
        checks["content_repository"] = f"fail: {exc}"
    return checks


@router.get("/healthz", summary="Health of the database, data home and content repository")
def healthz(request: Request) -> JSONResponse:
    checks = check_all(request.app)
    failing = [name for name, state in checks.items() if state.startswith("fail")]
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=503 if failing else 200)
