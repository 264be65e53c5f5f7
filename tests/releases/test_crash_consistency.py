"""Crash consistency: a process killed at any point of publishing or uploading leaves nothing half-done.

Most trials fork the test process and arm the fault hook (``PORTAL_FAULT_POINT``, ``portal/faults.py``): the
child runs the real service and dies with ``os._exit(137)`` — no ``finally``, no cleanup, locks dropped by the
kernel, exactly as after ``kill -9`` — at the named point. A few trials SIGKILL a real ``portal serve`` at
increasing delays after the request went out. After each kill the portal "restarts" (the start-up repair,
``housekeeping.on_start``, or a real server start) and the test checks that git, the database (audit row,
ticket stage, package state, deliveries), the search index and the site agree, and that no temporary file
or unreferenced blob survives the sweep.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import yaml
from sqlalchemy import select

from portal import audit, blobs, housekeeping, intents, storage
from portal.db import Database
from portal.knowledge import service as kb
from portal.knowledge import store
from portal.policy import SystemActor
from portal.releases import service
from portal.releases.models import Delivery, Package, PackageFile
from portal.tickets.models import TicketEvent
from tests.factories import PASSWORD

TRIALS = 21


def in_child(fault: str, work) -> int:
    """Run ``work(db)`` in a forked process armed with ``fault``; its exit code (137: killed at the point)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.environ["PORTAL_FAULT_POINT"] = fault
            os.environ.pop("PORTAL_FAULT_AFTER", None)
            if "#" in fault:
                os.environ["PORTAL_FAULT_POINT"], os.environ["PORTAL_FAULT_AFTER"] = fault.split("#")
            work()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def restart(settings) -> None:
    """What a starting portal process does before serving, with a fresh database engine."""
    db = Database(settings)
    try:
        housekeeping.on_start(settings, db)
    finally:
        db.dispose()


def search_slugs(db, settings, user) -> set[str]:
    from portal.search import service as search

    with db.session_scope(write=False) as s:
        results = search.search(session=s, settings=settings, user=user, q="авария", limit=50)
    return {h.slug for h in results.page.hits}


def check_article(db, settings, content_repo, slug: str, ticket_id: str, writer) -> bool:
    """git, the audit log, the ticket's stage and the intents agree about ``slug``; True when it is published."""
    published = store.load(content_repo, slug).meta.status == "published"
    with db.session_scope(write=False) as s:
        rows = audit.query(s, action="article.publish", object_id=slug)
        stages = [e for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                                 TicketEvent.kind == "kb_updated"))
                  if e.details.get("slug") == slug]
        assert intents.pending_ids(s) == []
        assert len(rows) == (1 if published else 0), (slug, published, rows)
        assert len(stages) == (1 if published else 0), (slug, published, stages)
        if published:
            assert rows[0].actor == writer.username  # the real actor, also when the reconciliation applied it
            assert rows[0].details["commit"] == stages[0].details["commit"]
    return published


@pytest.fixture
def writer(make):
    return make.user("writer", username="sokolova", full_name="Мария Соколова", email="sokolova@primoart.example")


def draft(db, settings, writer, ticket_id: str, n: int) -> str:
    with db.session_scope() as s:
        return kb.create_article(session=s, settings=settings, actor=writer, body=f"Авария номер {n}: текст.\n",
                                 front_matter={"title": f"Авария {n}", "kind": "problem", "summary": "Кратко",
                                               "visibility": "customers", "tickets": [ticket_id]}).slug


def test_publish_killed_at_every_point_is_repaired_on_restart(db, settings, content_repo, world, writer):
    from portal.knowledge import site

    points = ["article.publish.before_git_commit", "article.publish.after_git_commit", ""]
    outcome = {}
    for n in range(TRIALS):
        slug = draft(db, settings, writer, world.t_romashka, n)
        fault = points[n % len(points)]

        def work(slug=slug):
            child_db = Database(settings)
            with child_db.session_scope() as s:
                kb.publish_article(session=s, settings=settings, actor=s.merge(writer), slug=slug)

        code = in_child(fault, work)
        assert code == (137 if fault else 0), (fault, code)
        restart(settings)
        restart(settings)  # applying twice never duplicates audit rows or stages
        outcome[slug] = check_article(db, settings, content_repo, slug, world.t_romashka, writer)
        assert outcome[slug] == (fault != points[0]), (fault, slug)
    with db.session_scope(write=False) as s:
        recovered = {r.details["outcome"] for r in audit.query(s, action="intent.reconciled", limit=100)}
    assert recovered == {"applied", "dropped"}  # the repair is audited
    # The search index and the site say the same as git.
    published = {slug for slug, yes in outcome.items() if yes}
    assert search_slugs(db, settings, writer) == published
    site.build(settings=settings, db=db, editions=["staff"], trigger="test")
    built = (settings.home_path / "site" / "staff").resolve()
    pages = {p.parent.name for p in built.rglob("index.html")}
    assert published <= pages and not (set(outcome) - published) & pages


def test_publish_killed_in_a_real_server_at_increasing_delays(settings, content_repo, world, writer, db):
    env = {**os.environ, "PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.effective_database_url,
           "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_RUN_JOBS": "false",
           "PORTAL_LOG_LEVEL": "warning"}
    env.pop("PORTAL_FAULT_POINT", None)
    server = Server(env)
    for n, delay in enumerate((0.0, 0.03, 0.1)):
        slug = draft(db, settings, writer, world.t_romashka, 100 + n)
        try:
            token = server.token(writer.username)
            sent = threading.Event()

            def publish(slug=slug, token=token, sent=sent, url=server.url):
                sent.set()
                try:
                    httpx.post(f"{url}/api/v1/articles/{slug}/publish",
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
                except httpx.HTTPError:
                    pass  # the server died under it: the client saw an error

            t = threading.Thread(target=publish)  # noqa: B023 (joined within the iteration)
            t.start()
            sent.wait()
            time.sleep(delay)
        finally:
            server.kill()
        t.join(30)
        server = Server(env)  # a real start: the lifespan repairs before serving (and serves the next trial)
        check_article(db, settings, content_repo, slug, world.t_romashka, writer)
    server.stop()


class Server:
    """``python -m portal serve`` as a separate process."""

    def __init__(self, env: dict):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "portal", "serve", "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("portal serve did not start")
            time.sleep(0.05)

    def token(self, username: str) -> str:
        r = httpx.post(f"{self.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        return r.json()["access_token"]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def check_storage(db, settings, content_repo) -> None:
    """No temporary file, no unreferenced blob after the sweep; every package file's bytes present; package
    state, deliveries and audit agree with the manifest in git."""
    swept = settings.model_copy(update={"blob_grace_hours": 1e-9})
    storage.sweep(settings=swept, db=db)
    blob_store = blobs.blob_store(settings)
    with db.session_scope(write=False) as s:
        found = storage.report(settings=settings, session=s, now=time.time())
        assert found.orphan_blobs == [] and found.orphan_temporary == [] and found.busy_temporary == []
        assert found.missing == []
        for f in s.scalars(select(PackageFile)):
            assert blob_store.verify(f.sha256), f.name
        for p in s.scalars(select(Package)):
            path = content_repo.path / "releases" / f"{p.id}.md"
            in_git = yaml.safe_load(path.read_text().split("---")[1])["status"] if path.exists() else "draft"
            assert p.status == in_git, (p.id, p.status, in_git)
            published = p.status == "published"
            assert len(audit.query(s, action="package.publish", object_id=p.id)) == int(published)
            assert (s.query(Delivery).filter_by(package_id=p.id).count() > 0) == published
        assert intents.pending_ids(s) == []


def test_upload_and_package_publish_killed_at_every_point(db, settings, content_repo, world):
    payload = [b"first file of the package\n" * 5000, b"second file\n" * 7000]
    cases = ["during_second_file", "upload.after_file#2", "upload.after_file#1", "package.publish.after_git_commit",
             "package.publish.before_git_commit", ""]
    for n in range(TRIALS):
        case = cases[n % len(cases)]
        pid = f"pkg-crash-{n}"
        # Every third trial repeats the bytes of an earlier one: blobs are shared by content.
        files = [(f"a{n}.bin", payload[0] + (b"" if n % 3 == 0 else str(n).encode())),
                 (f"b{n}.bin", payload[1] + str(n).encode())]

        def work(case=case, pid=pid, files=files):
            child_db = Database(settings)
            first = service.stage_file(settings=settings, name=files[0][0], stream=io.BytesIO(files[0][1]))
            if case == "during_second_file":
                writer = blobs.blob_store(settings).writer()
                writer.write(files[1][1][: len(files[1][1]) // 2])
                os._exit(137)  # killed half-way through the second file
            second = service.stage_file(settings=settings, name=files[1][0], stream=io.BytesIO(files[1][1]))
            with child_db.session_scope() as s:
                service.create_package(session=s, settings=settings, actor=SystemActor.operator("test"), files=[first, second],
                                       data=service.PackageInput(id=pid, title="Пакет", version="1.0",
                                                                 ticket_ids=[world.t_romashka]))
            with child_db.session_scope() as s:
                service.publish_package(session=s, settings=settings, actor=SystemActor.operator("test"), package_id=pid)

        code = in_child(case, work)
        assert code == (137 if case else 0), (case, code)
        if case == "during_second_file":
            assert any(blobs.blob_store(settings).tmp.iterdir())  # the killed write left its temporary file
        restart(settings)
        assert not any(blobs.blob_store(settings).tmp.iterdir())  # removed at once at start, whatever its age
        check_storage(db, settings, content_repo)
        with db.session_scope(write=False) as s:
            package = s.get(Package, pid)
            expected = {"during_second_file": None, "upload.after_file#2": None, "upload.after_file#1": None,
                        "package.publish.after_git_commit": "published",
                        "package.publish.before_git_commit": "draft", "": "published"}[case]
            assert (package.status if package else None) == expected, (case, package and package.status)


def test_upload_killed_in_a_real_server_leaves_nothing_after_restart(settings, content_repo, world, db):
    env = {**os.environ, "PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.effective_database_url,
           "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_RUN_JOBS": "false",
           "PORTAL_LOG_LEVEL": "warning"}
    env.pop("PORTAL_FAULT_POINT", None)
    boundary = "crashboundary"
    server = Server(env)
    for n, after in enumerate((0.05, 0.3)):
        try:
            token = server.token(world.support.username)
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\npkg-srv-{n}\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n").encode() + b"A" * (2 << 20) + (
                f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall((f"POST /api/v1/packages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                              f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                              f"Content-Length: {len(head) + (64 << 20)}\r\n\r\n").encode() + head)
                for _ in range(4):
                    sock.sendall(b"B" * (1 << 20))  # the second file is being written …
                time.sleep(after)
                tmp = blobs.blob_store(settings).tmp
                deadline = time.monotonic() + 10
                while not (tmp.is_dir() and any(tmp.iterdir())) and time.monotonic() < deadline:
                    time.sleep(0.02)
                server.kill()  # … when the server is killed
        finally:
            if server.proc.poll() is None:
                server.kill()
        assert any(blobs.blob_store(settings).tmp.iterdir())
        server = Server(env)  # restart: the leftover nobody holds goes at once
        assert not any(blobs.blob_store(settings).tmp.iterdir())
        check_storage(db, settings, content_repo)
    server.stop()


def test_the_failing_one_of_two_identical_uploads_keeps_the_others_blob(db, settings, world):
    data = b"identical bytes\n" * 1000
    failing = service.stage_file(settings=settings, name="a.bin", stream=io.BytesIO(data))
    succeeding = service.stage_file(settings=settings, name="a.bin", stream=io.BytesIO(data))
    assert failing.blob.created and not succeeding.blob.created
    with db.session_scope(write=False) as s:  # the first upload fails before its rows exist …
        service.discard_staged(session=s, settings=settings, staged=[failing])
    with db.session_scope() as s:  # … and the second registers the same bytes
        service.create_package(session=s, settings=settings, actor=SystemActor.operator("test"), files=[succeeding],
                               data=service.PackageInput(id="pkg-twin", title="Пакет", version="1.0",
                                                         ticket_ids=[world.t_romashka]))
    assert blobs.blob_store(settings).verify(succeeding.sha256)
    # Alone, a failed upload still leaves nothing.
    lone = service.stage_file(settings=settings, name="c.bin", stream=io.BytesIO(b"lonely bytes"))
    with db.session_scope(write=False) as s:
        service.discard_staged(session=s, settings=settings, staged=[lone])
    assert not blobs.blob_store(settings).exists(lone.sha256)


def test_temporary_files_nobody_holds_go_at_once_and_held_ones_stay(settings):
    store = blobs.blob_store(settings)
    held = store.writer()
    held.write(b"in flight")

    def leave_one():
        store.writer().write(b"killed")
        os._exit(137)

    assert in_child("", leave_one) == 137
    assert len(list(store.tmp.iterdir())) == 2
    assert store.sweep_temporary() == 1  # the killed writer's file, although only milliseconds old
    assert [t.name for t in store.temporary_files()] == [str(held._tmp)]
    held.commit()
    assert list(store.tmp.iterdir()) == []


def test_verify_reports_orphans_and_leftovers_in_russian(settings, db, world, monkeypatch):
    from typer.testing import CliRunner

    from portal.cli import app

    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("COLUMNS", "250")
    store = blobs.blob_store(settings)
    orphan = store.put(io.BytesIO(b"first file of a killed upload"))

    def leave_temporary():
        store.writer().write(b"half of the second file")
        os._exit(137)

    in_child("", leave_temporary)
    result = CliRunner().invoke(app, ["package", "verify"])
    assert result.exit_code == 1
    assert f"БЕЗ ССЫЛКИ блоб {orphan.sha256}" in result.output and "ВРЕМЕННЫЙ" in result.output
    assert "блобов без ссылок: 1" in result.output and "временных файлов прерванных загрузок: 1" in result.output
    storage.sweep(settings=settings.model_copy(update={"blob_grace_hours": 1e-9}), db=db)
    clean = CliRunner().invoke(app, ["package", "verify"])
    assert clean.exit_code == 0, clean.output
