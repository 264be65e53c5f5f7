"""GET /healthz and ``portal doctor``: every configured component checked; 503 (exit 1) names what fails.

``/healthz`` checks what every request needs — database, data home, blob store (a probe written, read back and
deleted; a success is trusted for ``BLOB_PROBE_SECONDS``, so a load balancer polling every second does not write
an object a second), content repository and, with several nodes, whether this node is at the commit the last
writer pushed. ``portal doctor`` probes afresh and adds what only some work needs and what is slow to ask — the
content repository's remote (``git ls-remote``), the search index, SMTP and IMAP — each with a short timeout.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from portal import blobs, content, jobs, migrate, policy
from portal.content import ContentRepo
from portal import i18n
from portal.i18n import Message, message
from portal.search import service as search_service

router = APIRouter(tags=["health"])


BLOB_PROBE_SECONDS = 30.0
_probed_ok: dict[str, float] = {}  # the blob store's description → when its probe last succeeded (monotonic)
_probed_lock = threading.Lock()


def probe_blob_store(settings, *, max_age: float = 0.0) -> None:
    """Write, read back and delete a probe; a success younger than ``max_age`` seconds stands in for a new one."""
    store = blobs.blob_store(settings)
    key = store.describe()
    with _probed_lock:
        last = _probed_ok.get(key)
    if max_age and last is not None and time.monotonic() - last < max_age:
        return
    blobs.probe(store)
    with _probed_lock:
        _probed_ok[key] = time.monotonic()


# A component's state for machines: fine, fine but worth a word, or failing.
OK, BEHIND = "ok", "behind"
MISSING, NOT_DIRECTORY, NOT_WRITABLE, ERROR = "missing", "not_directory", "not_writable", "error"
FINE_CODES = (OK, BEHIND)


@dataclass(frozen=True)
class State:
    """One component's state: ``code`` stable for machines (``ok``, ``behind``, ``missing``, ``not_directory``,
    ``not_writable``, ``error``); ``said`` for people — a message when the portal words the finding itself (read in the reader's
    language), or what a server or library said, as it was."""

    code: str
    said: str = ""

    @property
    def ok(self) -> bool:
        return self.code in FINE_CODES

    def in_language(self, lang: str) -> str:
        return self.said.in_language(lang) if isinstance(self.said, Message) else str(self.said)

    def line(self) -> str:
        """The ``checks`` entry of /healthz: ``ok``, ``ok: …`` or ``fail: …`` worded in English whoever asks —
        the fixed text monitors and scripts already match (the reader's words are in ``messages``)."""
        said = self.in_language("en")
        return ("ok" if self.ok else "fail") + (f": {said}" if said else "")


def _failed(exc: Exception) -> State:
    return State(ERROR, f"{exc}")


def _remote_state(settings, head: str) -> State:
    """Several nodes: is this node at the commit the last writer pushed? Behind is no failure (the next request
    catches up), an unreadable record is."""
    recorded = content.recorded_head(settings)
    if not recorded or recorded == head:
        return State(OK)
    return State(BEHIND, message("health_checks.behind", recorded=recorded[:12], head=head[:12]))


def states(settings, db, *, blob_probe_max_age: float = 0.0) -> tuple[dict[str, State], str]:
    """Each component's state, and the content repository's HEAD ("" when it cannot be read)."""
    found: dict[str, State] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        migrate.check_schema(db)
        found["database"] = State(OK)
    except Exception as exc:  # every failure becomes a named, readable reason
        found["database"] = _failed(exc)
    home = settings.home_path
    if not home.exists():
        found["data_home"] = State(MISSING, message("health_checks.data_home_missing", path=str(home)))
    elif not home.is_dir():
        found["data_home"] = State(NOT_DIRECTORY, message("health_checks.data_home_not_directory", path=str(home)))
    elif not os.access(home, os.W_OK):
        found["data_home"] = State(NOT_WRITABLE, message("health_checks.data_home_read_only", path=str(home)))
    else:
        found["data_home"] = State(OK)
    try:
        probe_blob_store(settings, max_age=blob_probe_max_age)
        found["blob_store"] = State(OK)
    except Exception as exc:
        found["blob_store"] = _failed(exc)
    head = ""
    try:
        head = ContentRepo(settings).check()
        found["content_repository"] = State(OK)
    except Exception as exc:
        found["content_repository"] = _failed(exc)
    if settings.content_remote:
        try:
            found["content_remote"] = _remote_state(settings, head)
        except Exception as exc:
            found["content_remote"] = _failed(exc)
    return found, head


def check_parts(settings, db, *, blob_probe_max_age: float = 0.0) -> dict[str, str]:
    """The ``checks`` of /healthz: each component's line (``State.line``) and ``content_head``."""
    found, head = states(settings, db, blob_probe_max_age=blob_probe_max_age)
    checks = {name: state.line() for name, state in found.items()}
    if head:
        checks["content_head"] = head
    return checks


@router.get("/healthz", summary="Health of the database, data home, blob store and content repository")
def healthz(request: Request) -> JSONResponse:
    """For machines first: ``checks`` (fixed English lines) and ``codes`` stay the same whoever asks; ``messages``
    words each finding for a person in the asker's language (Accept-Language; Russian by default)."""
    found, head = states(request.app.state.settings, request.app.state.db, blob_probe_max_age=BLOB_PROBE_SECONDS)
    failing = [name for name, state in found.items() if not state.ok]
    checks = {name: state.line() for name, state in found.items()}
    if head:
        checks["content_head"] = head
    lang = i18n.pick_language(None, request.headers.get("accept-language"))
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks,
            "codes": {name: state.code for name, state in found.items()},
            "messages": {name: state.in_language(lang) for name, state in found.items() if state.said}}
    return JSONResponse(body, status_code=503 if failing else 200)


TIMEOUT = 5.0


def _remote(settings) -> str:
    repo = ContentRepo(settings)
    if not repo.has_remote():
        if settings.content_remote:
            raise OSError(message("health.remote_missing", remote=settings.content_remote,
                                  path=str(settings.content_path)))
        return message("health.remote_not_configured")
    done = subprocess.run(["git", "-C", str(settings.content_path), "ls-remote", "--heads"], capture_output=True,
                          text=True, timeout=3 * TIMEOUT, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        raise OSError(done.stderr.strip()[:300] or message("health.remote_failed", code=done.returncode))
    return message("health.remote_reachable")


def _search(settings) -> str:
    info = search_service.status(settings=settings)
    if not info:
        raise OSError(message("health.index_missing"))
    return str(info["where"])  # the backend says where its live generation is (a directory, or a table)


def _smtp(settings) -> str:
    import smtplib

    url = urlsplit(settings.smtp_url)
    cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with cls(url.hostname or "", url.port or (465 if url.scheme == "smtps" else 587), timeout=TIMEOUT) as smtp:
        smtp.noop()
    return message("health.server_answers", host=url.hostname)


def _imap(settings) -> str:
    import imaplib

    url = urlsplit(settings.imap_url)
    imap = imaplib.IMAP4_SSL(url.hostname or "", url.port or 993, timeout=TIMEOUT)
    imap.logout()
    return message("health.server_answers", host=url.hostname)


def doctor(app_settings, db) -> list[tuple[str, bool, str]]:
    """(component, fine, what was found) for every configured component; the component and what the portal itself
    found are messages (Russian text, read in the reader's language), what a server or library said is as it was."""
    out: list[tuple[str, bool, str]] = []
    quick, head = states(app_settings, db)
    names = {key: message(f"health.part.{key}") for key in COMPONENTS}
    details = {"blob_store": blobs.blob_store(app_settings).describe(), "data_home": str(app_settings.home_path),
               "content_repository": head[:12]}
    if "content_remote" in quick:
        names["content_remote"] = message("health.part.content_remote", node=app_settings.node)
        details["content_remote"] = message("health.at_pushed_commit")
    for key, label in names.items():
        state = quick[key]
        out.append((label, state.ok, state.said or (details.get(key, "") if state.ok else "")))
    slow: list[tuple[str, Callable[[object], str]]] = [(message("health.part.remote"), _remote),
                                                      (message("health.part.search"), _search)]
    if app_settings.smtp_url:
        slow.append(("SMTP", _smtp))
    if app_settings.imap_url:
        slow.append(("IMAP", _imap))
    for part, check in slow:
        try:
            out.append((part, True, check(app_settings)))
        except Exception as exc:  # every failure becomes one readable line
            said = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], Message) else None
            out.append((part, False, said if said is not None else f"{type(exc).__name__}: {exc}"[:300]))
    return out


# The components of /healthz the administrator's home lists, in this order.
COMPONENTS = ("database", "data_home", "blob_store", "content_repository")


def dashboard_section(request: Request, session, user):
    """dashboard.SECTIONS: the administrator's home — the state of each component (the same checks as
    /healthz) and the jobs whose last run failed."""
    if not policy.allows(user, "jobs.manage"):
        return None
    settings = request.app.state.settings
    found, _ = states(settings, request.app.state.db, blob_probe_max_age=BLOB_PROBE_SECONDS)
    parts = [(key, found[key].ok, found[key].said) for key in COMPONENTS]  # said: worded when the page renders
    registry = jobs.REGISTRY.by_name()
    failed = [(state, registry.get(state.name.split(jobs.NODE_SEPARATOR)[0]))
              for state in jobs.states(session) if state.last_status == "error"]
    return "dashboard/_admin.html", {"parts": parts, "failed_jobs": failed, "smtp": bool(settings.smtp_url)}
