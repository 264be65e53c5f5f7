"""The node's warm build worker (``site_worker.py``): incremental builds run in one long-lived process; a worker
that dies, hangs or is killed mid-build is replaced, the edition it was building stays as it was (or is built
in full), and a worker whose server is killed leaves with it. Also: build rows a killed server left «building»
are settled from this node's manifest."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import portal.knowledge.jobs  # noqa: F401  (registers kb.build)
from portal import jobs
from portal.db import utcnow
from portal.jobs import Scheduler
from portal.knowledge import site
from portal.knowledge.models import SiteBuild
from tests.knowledge.test_site_incremental import _assert_same_edition
from tests.knowledge.test_site_reconcile import _publish


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is gone as far as a build is concerned
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _reference(settings, db, tmp_path, name: str):
    reference = settings.model_copy(update={"home": tmp_path / name, "content_repo": settings.content_path})
    assert {r.status for r in site.build(settings=reference, db=db, force=True)} == {"built"}
    return reference


def test_incremental_builds_run_in_one_warm_worker_that_is_replaced_when_killed(
        writer, db, settings, content_repo, tmp_path):
    assert {r.mode for r in site.build(settings=settings, db=db)} == {"full"}
    worker = site.BUILD_WORKER
    _publish(db, settings, writer, "Агент RUM не отправляет данные")
    assert {(r.status, r.mode) for r in site.build(settings=settings, db=db)} == {("built", "incremental")}
    first = worker.pid
    assert first is not None and first != os.getpid()
    _publish(db, settings, writer, "Сессии RUM обрываются")
    assert {(r.status, r.mode) for r in site.build(settings=settings, db=db)} == {("built", "incremental")}
    assert worker.pid == first  # the same process: MkDocs and Material imported once

    os.kill(first, signal.SIGKILL)  # dies between builds
    assert _wait_gone(first)
    slug = _publish(db, settings, writer, "Отчёт не строится")
    results = site.build(settings=settings, db=db)
    assert {(r.status, r.mode) for r in results} == {("built", "incremental")}, [r.error for r in results]
    assert worker.pid not in (None, first)
    assert (site.edition_dir(settings, "customers") / "problems" / slug / "index.html").exists()


def test_a_worker_killed_mid_build_leaves_the_edition_served_and_the_build_is_made_in_full(
        writer, db, settings, content_repo, tmp_path):
    site.build(settings=settings, db=db)
    worker = site.BUILD_WORKER
    pid = worker.warm()
    before = {e: site.served(settings, e) for e in site.EDITIONS}
    slug = _publish(db, settings, writer, "Панель показывает пустой график")
    calls: list[int] = []

    def kill_while_building() -> bool:  # asked before the request is sent, then while the worker has it
        calls.append(1)
        if len(calls) == 1:
            os.kill(pid, signal.SIGSTOP)  # it takes the request up but cannot answer it
        elif len(calls) == 2:
            os.kill(pid, signal.SIGKILL)  # a crash with the build outstanding
            assert _wait_gone(pid)
            for edition in site.EDITIONS:  # nothing of the unfinished build is served
                assert site.served(settings, edition) == before[edition]
        return False

    results = site.build(settings=settings, db=db, cancel=kill_while_building)
    assert len(calls) >= 2
    assert {(r.status, r.mode) for r in results} == {("built", "full")}, [r.error for r in results]
    assert worker.pid not in (None, pid)
    reference = _reference(settings, db, tmp_path, "reference")
    for edition in site.EDITIONS:
        _assert_same_edition(site.served(settings, edition).directory, site.edition_dir(reference, edition), edition)
    assert (site.edition_dir(settings, "customers") / "problems" / slug / "index.html").exists()


def test_a_newer_commit_interrupts_the_preparation_of_full_builds_and_the_worker_stays_warm(
        writer, db, settings, content_repo):
    site.build(settings=settings, db=db)
    worker = site.BUILD_WORKER
    warm = worker.warm()
    before = {e: site.served(settings, e) for e in site.EDITIONS}
    _publish(db, settings, writer, "Сертификат прокси не принят")
    asked: list[bool] = []

    def newer_commit_on_second_look() -> bool:
        asked.append(True)
        return len(asked) > 1

    results = site.build(settings=settings, db=db, force=True, incremental=False, background=True,
                         cancel=newer_commit_on_second_look)
    assert {(r.status, r.mode) for r in results} == {("cancelled", "full")}
    assert worker.pid == warm  # interrupted, not killed: the next build finds MkDocs imported
    assert {e: site.served(settings, e) for e in site.EDITIONS} == before
    assert {(r.status, r.mode) for r in site.build(settings=settings, db=db)} == {("built", "incremental")}
    assert worker.pid == warm


def test_a_hung_worker_is_replaced_and_the_build_is_made_in_full(writer, db, settings, content_repo, monkeypatch):
    site.build(settings=settings, db=db)
    worker = site.BUILD_WORKER
    hung = worker.warm()
    os.kill(hung, signal.SIGSTOP)  # alive, never answering
    try:
        monkeypatch.setattr(worker, "reply_timeout", 2.0)
        slug = _publish(db, settings, writer, "Журнал агента не ротируется")
        results = site.build(settings=settings, db=db)
    finally:
        if _alive(hung):
            os.kill(hung, signal.SIGCONT)
    assert {(r.status, r.mode) for r in results} == {("built", "full")}, [r.error for r in results]
    assert _wait_gone(hung)
    assert worker.pid not in (None, hung)
    assert (site.edition_dir(settings, "customers") / "problems" / slug / "index.html").exists()
    _publish(db, settings, writer, "Прокси режет заголовки")
    assert {r.mode for r in site.build(settings=settings, db=db)} == {"incremental"}  # the new worker builds


_SERVER = """
import sys, time
from portal.knowledge import site
print(site.BUILD_WORKER.warm(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["terminated", "killed"])
def test_the_worker_ends_with_the_process_that_started_it(how, tmp_path):
    server = subprocess.Popen([sys.executable, "-c", _SERVER] if how == "killed" else
                              [sys.executable, "-c", _SERVER.replace("time.sleep(600)", "sys.stdin.read()")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        pid = int(server.stdout.readline())
        assert _alive(pid)
        if how == "killed":
            server.kill()  # no atexit: the worker notices its parent is gone
        else:
            server.stdin.close()  # the server exits normally: atexit stops the worker
        server.wait(30)
        assert _wait_gone(pid), f"worker {pid} outlived its server ({how})"
    finally:
        if server.poll() is None:
            server.kill()


def test_build_rows_left_building_by_a_killed_server_are_settled_from_the_manifest(
        writer, db, settings, content_repo):
    site.build(settings=settings, db=db)
    served_commit = site.served(settings, "staff").commit
    earlier = utcnow() - dt.timedelta(hours=1)  # as a server killed before this process started left them
    with db.session_scope() as session:
        swapped = SiteBuild(edition="staff", commit=served_commit, status="building", trigger="job",
                            started_at=earlier)
        cut_off = SiteBuild(edition="customers", commit="0" * 40, status="building", trigger="job", started_at=earlier)
        session.add_all([swapped, cut_off])
        session.flush()
        ids = swapped.id, cut_off.id
    job = jobs.REGISTRY[site.BUILD_JOB]
    assert Scheduler(settings, db, jobs={job.name: job}).tick() == [job.name]
    with db.session_scope(write=False) as session:
        rows = [session.get_one(SiteBuild, i) for i in ids]
        assert [(r.status, r.finished_at is not None) for r in rows] == [("built", True), ("cancelled", True)]
        assert session.query(SiteBuild).filter_by(status="building").count() == 0


def test_background_full_builds_run_at_a_lower_priority_and_a_publish_build_does_not(
        writer, db, settings, content_repo):
    site.build(settings=settings, db=db)
    last: dict[str, dict[int, int]] = {"background": {}, "foreground": {}}  # kind → pid → nice value last seen

    def niceness_of_running_builds(kind: str):
        def look() -> bool:  # asked four times a second while the MkDocs processes run
            for proc in list(site._RUNNING):
                try:  # field 19 of /proc/<pid>/stat is the nice value (after the command's parenthesis)
                    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                    last[kind][proc.pid] = int(fields[16])
                except (OSError, IndexError, ValueError):
                    pass
            return False
        return look

    assert {r.status for r in site.build(settings=settings, db=db, force=True, incremental=False, background=True,
                                         cancel=niceness_of_running_builds("background"))} == {"built"}
    assert {r.status for r in site.build(settings=settings, db=db, force=True, incremental=False,
                                         cancel=niceness_of_running_builds("foreground"))} == {"built"}
    base = os.nice(0)  # the last look at each process is well after it lowered its priority (MkDocs imports)
    seen = {kind: set(values.values()) for kind, values in last.items()}
    assert seen["background"] == {min(19, base + site.BACKGROUND_NICENESS)}, seen
    assert seen["foreground"] == {base}, seen


def test_a_full_build_killed_from_outside_fails_naming_the_signal_and_only_the_portals_own_stop_cancels(
        writer, db, settings, content_repo):
    """«Cancelled» (no error, no back-off) is for a build the portal stopped itself: a newer commit, the server's
    exit. A MkDocs process killed by anything else — another program, an operator, the OOM killer — was
    recorded the same way (its SIGTERM code was taken for the portal's own), so a failed build said nothing of
    why: the equivalence test once saw a reference build come back so, under load, unexplained."""
    site.build(settings=settings, db=db)
    killed: list[int] = []

    def kill_one_from_outside() -> bool:  # asked four times a second while the MkDocs processes run
        for proc in list(site._RUNNING):
            if not killed:
                os.kill(proc.pid, signal.SIGTERM)
                killed.append(proc.pid)
        return False  # the portal itself asks for no stop

    results = site.build(settings=settings, db=db, force=True, incremental=False, cancel=kill_one_from_outside)
    assert len(killed) == 1
    outcome = sorted((r.status, "SIGTERM" in r.error and "не порталом" in r.error) for r in results)
    assert outcome == [("built", False), ("built", False), ("failed", True)], [(r.status, r.error) for r in results]
    with db.session_scope(write=False) as session:
        rows = {row.status: row.error for row in session.query(SiteBuild).order_by(SiteBuild.id.desc()).limit(3)}
    assert "SIGTERM" in (rows.get("failed") or "") and "cancelled" not in rows, rows

    stopped = {"asked": False}

    def newer_commit_arrived() -> bool:  # the portal's own stop: still «cancelled», with no error
        if site._RUNNING:
            stopped["asked"] = True
        return stopped["asked"]

    results = site.build(settings=settings, db=db, force=True, incremental=False, cancel=newer_commit_arrived)
    assert {(r.status, r.error) for r in results} == {("cancelled", "")}, [(r.status, r.error) for r in results]
