"""The parts several nodes rely on, one at a time: the lock across nodes, per-node jobs, following the content
remote, and a /healthz cheap enough to poll."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time

import pytest

from portal import content, health, jobs, locks
from portal.config import Settings
from portal.content import ContentRepo
from portal.errors import Conflict
from portal.jobs import Job, JobState, Scheduler
from tests.conftest import TEST_SECRET
from tests.nodes import cluster


@pytest.fixture(scope="module")
def pg_url():
    with cluster.postgres_database() as url:
        from portal import migrate
        from portal.db import Database

        db = Database(Settings(home="/nonexistent-home", database_url=url))
        migrate.upgrade(db)
        db.dispose()
        yield url


def node_settings(tmp_path, name: str, url: str, remote: str = "") -> Settings:
    home = tmp_path / f"home-{name}"
    (home / "locks").mkdir(parents=True, exist_ok=True)
    return Settings(home=home, database_url=url, secret_key=TEST_SECRET, node_name=name, content_remote=remote,
                    run_jobs=False)


def test_the_advisory_lock_excludes_other_nodes_and_ends_with_its_holder(tmp_path, pg_url):
    a, b = node_settings(tmp_path, "a", pg_url), node_settings(tmp_path, "b", pg_url)  # two homes: no file lock shared
    inside, release = threading.Event(), threading.Event()

    def hold():
        with locks.shared(a, "probe", timeout=5, what="Проба"):
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    with pytest.raises(Conflict) as refused:
        with locks.shared(b, "probe", timeout=0.3, what="Проба"):
            pass
    assert "Проба занято" in str(refused.value)
    release.set()
    holder.join()
    with locks.shared(b, "probe", timeout=1, what="Проба"):
        pass  # free again once the holder let go

    # A holder that dies without letting go: its connection ends, and so does its lock.
    script = ("import time, sys; from portal import locks; from portal.config import Settings\n"
              f"s = Settings(home={str(tmp_path / 'home-c')!r}, database_url={pg_url!r})\n"
              "cm = locks.shared(s, 'probe', timeout=5, what='x'); cm.__enter__(); print('held', flush=True); "
              "time.sleep(60)")
    child = subprocess.Popen([".venv/bin/python", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(Conflict):
            with locks.shared(b, "probe", timeout=0.3, what="Проба"):
                pass
    finally:
        child.kill()
        child.wait(10)
    with locks.shared(b, "probe", timeout=5, what="Проба"):
        pass


def test_the_lock_is_the_data_homes_file_lock_on_sqlite(tmp_path):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'portal.db'}")
    assert not settings.uses_postgresql
    with locks.shared(settings, "probe", timeout=1, what="Проба"):
        assert (settings.locks_path / "probe.lock").exists()


def test_per_node_jobs_run_on_each_node_and_a_request_reaches_every_node(settings, db):
    calls: list[str] = []
    job = Job("build.here", dt.timedelta(hours=1), lambda ctx: calls.append(ctx.settings.node) or None,
              per_node=True)
    shared = Job("once.anywhere", dt.timedelta(hours=1), lambda ctx: calls.append("shared") or None)
    nodes = [settings.model_copy(update={"node_name": name}) for name in ("a", "b")]
    schedulers = [Scheduler(s, db, jobs={job.name: job, shared.name: shared}, owner=s.node_name) for s in nodes]
    ran = [s.tick() for s in schedulers]
    assert ran == [["build.here", "once.anywhere"], ["build.here"]]
    assert sorted(calls) == ["a", "b", "shared"]
    assert [s.tick() for s in schedulers] == [[], []]  # not due again for an hour, on either node
    jobs.REGISTRY.add(job)  # request_run learns from the registry that the job is per node
    try:
        with db.session_scope() as session:
            jobs.request_run(session, job.name)
        assert [s.tick() for s in schedulers] == [["build.here"], ["build.here"]]
        with db.session_scope(write=False) as session:  # the jobs page shows each node its own row
            assert jobs.states_by_job(session, nodes[1])["build.here"].name == "build.here@b"
    finally:
        jobs.REGISTRY._items.pop(job.name, None)
    with db.session_scope(write=False) as session:
        names = sorted(row.name for row in session.query(JobState))
    assert names == ["build.here@a", "build.here@b", "once.anywhere"]


def test_a_node_behind_the_remote_catches_up_from_the_recorded_commit(tmp_path, pg_url):
    remote = cluster.bare_remote(tmp_path / "remote.git")
    a, b = node_settings(tmp_path, "a", pg_url, remote), node_settings(tmp_path, "b", pg_url, remote)
    assert ContentRepo(a).ensure()  # seeds and pushes
    assert ContentRepo(b).ensure()  # clones
    start = ContentRepo(a).head()
    assert ContentRepo(b).head() == start == content.recorded_head(a)
    assert content.follow(b, force=True) is False  # nothing to do: one database read, no git

    repo_a = ContentRepo(a)
    with repo_a.writing():
        new = repo_a.commit_files(files={"kb/howto/node-probe.md": "# Проба\n"}, message="Проба узла")
    assert content.recorded_head(a) == new
    assert ContentRepo(b).head() == start  # B has not looked yet
    assert health.check_parts(b, _db(b))["content_remote"].startswith("ok: behind")
    assert content.follow(b, force=True) is True
    assert ContentRepo(b).head() == new
    assert health.check_parts(b, _db(b))["content_remote"] == "ok"
    assert content.follow(b) is False  # throttled: at most once a second per process


def _db(settings):
    from portal.db import Database

    return Database(settings)


def test_healthz_trusts_a_recent_probe_of_the_blob_store(settings, db):
    store_root = settings.blobs_path
    health._probed_ok.clear()
    health.check_parts(settings, db, blob_probe_max_age=60)
    first = health._probed_ok[f"file://{store_root}"]
    time.sleep(0.01)
    health.check_parts(settings, db, blob_probe_max_age=60)
    assert health._probed_ok[f"file://{store_root}"] == first  # no second probe written
    health.check_parts(settings, db)  # portal doctor: always a fresh probe
    assert health._probed_ok[f"file://{store_root}"] > first


def test_settings_of_several_nodes_are_checked_at_start(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs PORTAL_BLOB_STORE=file"):
        Settings(home=tmp_path, accel_redirect="/_protected/", blob_store="s3://bucket/portal")
    with pytest.raises(ValidationError, match="starting and ending with /"):
        Settings(home=tmp_path, accel_redirect="_protected")
    assert Settings(home=tmp_path, node_name=" b ").node == "b"
    one, two = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "two")
    assert one.node != two.node and one.node == Settings(home=tmp_path / "one").node  # stable, one per data home


def test_a_commit_cut_off_before_its_push_never_reaches_the_remote_later(tmp_path, pg_url):
    """A killed between its commit and its push; B drops the intent as never having happened; when A comes back
    its orphan commit is set aside on a branch (audited), not pushed with A's next write. A finished operation
    whose push failed on the network is pushed instead."""
    from sqlalchemy import select

    from portal import audit, intents
    from portal.db import Database
    from portal.policy import SystemActor

    remote = cluster.bare_remote(tmp_path / "remote.git")
    a, b = node_settings(tmp_path, "a", pg_url, remote), node_settings(tmp_path, "b", pg_url, remote)
    ContentRepo(a).ensure()
    ContentRepo(b).ensure()
    db_a, db_b = Database(a), Database(b)
    operator = SystemActor.operator("test")
    repo_a = ContentRepo(a)

    def commit_without_push(path: str, text: str, *, finish: bool) -> str:
        with db_a.session_scope() as s:
            with repo_a.write_lock():
                started = intents.begin(s, content=repo_a, operation="article.save", target=path, actor=operator,
                                        files={path: text}, effects=[])
                sha = repo_a.commit_files(files={path: text}, message=f"Правка {path}")
            if finish:
                intents.finish(s, started, settings=a, commit=sha)
        return sha

    pushed_before = content.recorded_head(a)
    finished = commit_without_push("kb/howto/network.md", "# Сеть подвела\n", finish=True)
    orphan = commit_without_push("kb/howto/orphan.md", "# Обрыв до отправки\n", finish=False)
    intents.reconcile(settings=b, db=db_b)  # B: not in the remote, so it never happened
    with db_a.session_scope(write=False) as s:
        statuses = dict(s.execute(select(intents.Intent.target, intents.Intent.status)).all())
    assert statuses == {"kb/howto/network.md": intents.DONE, "kb/howto/orphan.md": intents.DROPPED}
    assert content.recorded_head(a) == pushed_before

    intents.reconcile(settings=a, db=db_a)  # A comes back
    assert repo_a.head() == finished == content.recorded_head(a)
    with repo_a.repo() as repo:
        remote_log = repo.git.log("--format=%H", f"origin/{content.BRANCH}").split()
        rescued = [ref.name for ref in repo.branches if ref.name.startswith("portal-orphan/")]
        assert finished in remote_log and orphan not in remote_log
        assert len(rescued) == 1 and repo.git.rev_parse(rescued[0]) == orphan
    with db_a.session_scope(write=False) as s:
        set_aside = audit.query(s, action="content.set_aside")
        assert [(e.object_id, e.details["branch"]) for e in set_aside] == [(orphan, rescued[0])]
    db_a.dispose()
    db_b.dispose()
