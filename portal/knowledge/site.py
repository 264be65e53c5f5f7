"""The knowledge-base site: Material for MkDocs editions built from one commit (the preview is render.py).

Three editions are built from the same commit, each from its own filtered copy of the articles, so an
article a reader may not see is not in their edition at all — not its page, title, text, search index
entry nor sitemap line. Which articles an edition carries is ``audiences.py``'s mapping, asked of the policy:

* ``staff`` — every published article;
* ``customers`` — published ``public`` and ``customers`` articles;
* ``public`` — published ``public`` articles (for anonymous readers when PORTAL_PUBLIC_KB=true).

An article is read with the knowledge base's one parser (``articles.read_published``), as search reads it: a
published article whose front matter breaks the schema is left out of every edition and out of search, and
``portal kb check`` and the writers' page name it.

Each edition is built into a fresh directory and swapped in atomically through a symlink
``$PORTAL_HOME/site/<edition>``. The build configuration is made by the portal from a whitelist of the
repository's ``mkdocs.yml`` (read with a safe YAML loader, no ``hooks``, only known plugins), because a
writer's edit of that file must not become code run on the server. The last-updated date comes from
git at build time and is written into each page, so it works offline and from a filtered copy.

What writers and customers typed never reaches a page as markup: the portal's own hooks
(``mkdocs_hooks.py``) sanitise every page's HTML and turn titles and tags into escaped text, and the
portal's theme layer (``theme/``, Material's ``custom_dir``) replaces Material's inline scripts with
files, so ``/kb/`` is served with a CSP that runs no inline script (``SITE_CSP``).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.content import ContentRepo
from portal.db import Database, utcnow
from portal.errors import Invalid
from portal.knowledge import articles, audiences, frontmatter, site_worker
from portal.knowledge.models import SiteBuild

log = logging.getLogger("portal.knowledge")

BUILD_JOB = "kb.build"  # the job that builds stale editions; a build is asked for by requesting it to run
# edition → the visibilities it carries (audiences.py asks the policy)
EDITIONS: dict[str, frozenset[str]] = {e: audiences.edition_visibilities(e) for e in audiences.EDITION_AUDIENCES}
EDITION_NAMES = audiences.EDITION_NAMES
# Keys of the repository's mkdocs.yml the portal carries into a build; everything else is ignored.
CONFIG_KEYS = ("site_name", "site_description", "site_author", "copyright", "theme", "markdown_extensions",
               "extra_css", "exclude_docs", "not_in_nav", "validation")
PLUGINS = {"search", "tags"}
MKDOCS_TIMEOUT = 3600
FAILED_RETRY_AFTER = dt.timedelta(minutes=15)
BUILDS_DIR = ".builds"
DEFAULT_MARKDOWN_EXTENSIONS = ["admonition", "pymdownx.details", "pymdownx.superfences", "tables", "toc",
                               "attr_list"]
MODULE_FALLBACK = i18n.message("kb_labels.site.module_fallback")  # a module group for articles naming none
HOOKS_FILE = Path(__file__).with_name("mkdocs_hooks.py")
INCREMENTAL_FILE = Path(__file__).with_name("site_incremental.py")
# Where the hooks write a full build's manifest (mkdocs_hooks.MANIFEST_ENV; not imported: it loads MkDocs).
MANIFEST_ENV = "PORTAL_KB_MANIFEST"
TEMPLATE_CACHE_ENV, TEMPLATE_CACHE_DIR = "PORTAL_KB_TEMPLATE_CACHE", "jinja-cache"  # compiled theme templates
THEME_DIR = Path(__file__).with_name("theme")
# Sent with every /kb/ response. Material's own scripts are files (the bundle, the search worker, the
# theme layer's replacements of its inline scripts); its styles and the icons' SVG need inline styles.
SITE_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
ASSET_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".pdf"})

Progress = Callable[[str, str], None]  # (edition, stage) — the CLI's progress bar listens
# This process's warm build worker: exports, prepares and builds incrementally (run_build_request, below).
BUILD_WORKER = site_worker.BuildWorker(f"{__name__}:run_build_request")


# --- the repository's configuration ---------------------------------------------------------------

def read_config(text: str) -> dict[str, Any]:
    """The repository's mkdocs.yml, read safely; ``Invalid`` names what is wrong."""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise Invalid.fields({"mkdocs.yml": i18n.message("kb_labels.config.not_yaml", error=str(exc))}) \
            from None
    if not isinstance(config, dict):
        raise Invalid.fields({"mkdocs.yml": i18n.message("kb_labels.config.not_mapping")})
    return config


def markdown_extensions(config: dict[str, Any]) -> tuple[list[str], dict[str, dict]]:
    """(names, configs) of ``markdown_extensions`` in mkdocs.yml, as python-markdown takes them."""
    names, configs = [], {}
    for item in config.get("markdown_extensions") or DEFAULT_MARKDOWN_EXTENSIONS:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            for name, options in item.items():
                names.append(name)
                if isinstance(options, dict):
                    configs[name] = options
    return names, configs


# --- build state ----------------------------------------------------------------------------------

def latest(session: Session, edition: str) -> SiteBuild | None:
    """The newest build attempt of an edition."""
    return session.scalar(select(SiteBuild).where(SiteBuild.edition == edition)
                          .order_by(SiteBuild.id.desc()).limit(1))


def latest_built(session: Session, edition: str) -> SiteBuild | None:
    return session.scalar(select(SiteBuild).where(SiteBuild.edition == edition, SiteBuild.status == "built")
                          .order_by(SiteBuild.id.desc()).limit(1))


def states(session: Session) -> dict[str, SiteBuild | None]:
    """The newest build attempt of every edition (None: never built)."""
    return {edition: latest(session, edition) for edition in EDITIONS}


def edition_dir(settings: Settings, edition: str) -> Path:
    return settings.site_path / edition


# --- this node's editions ---------------------------------------------------------------------------
#
# Which commit each edition is on is node-local: a manifest beside each build directory
# (``.builds/<edition>-<commit>-<id>.json``) and the symlink ``site/<edition>`` that points at the build. Each
# portal node keeps its own ``$PORTAL_HOME/site`` while sharing the database and the content remote, so a
# database row could say only what *some* node built; the file is swapped in by the same rename as the pages
# it describes, so what a node serves and what it believes it serves never disagree, also after a crash.
# ``SiteBuild`` rows remain the log of attempts (for the builds page and the API).

def _manifest_path(build_dir: Path) -> Path:
    return build_dir.with_name(build_dir.name + ".json")


@dataclass(frozen=True)
class Served:
    """The build an edition is served from on this node."""
    directory: Path
    commit: str
    mode: str  # full | incremental (incremental: a full build of the same commit is still to replace it)
    config_key: str  # configuration, theme and hooks: an incremental build needs the same
    manifest: dict[str, Any]


def served(settings: Settings, edition: str) -> Served | None:
    """What ``site/<edition>`` serves on this node; None when nothing is (or it was built before manifests)."""
    link = edition_dir(settings, edition)
    if not link.is_symlink():
        return None
    target = link.resolve()
    try:
        data = json.loads(_manifest_path(target).read_text(encoding="utf-8"))
        return Served(target, data["commit"], data["mode"], data["config_key"], data)
    except (OSError, ValueError, KeyError):
        return None


def is_stale(session: Session, settings: Settings, edition: str, head: str) -> bool:
    """True when this node's edition is missing or was built from another commit than ``head``."""
    last = latest(session, edition)
    if last is not None and last.commit == head and last.status == "failed" and last.finished_at \
            and utcnow() - last.finished_at < FAILED_RETRY_AFTER:
        return False  # failed on this very commit: retry later, or at once on a new commit or a forced build
    current = served(settings, edition)
    return current is None or current.commit != head or not (current.directory / "index.html").exists()


_PROCESS_STARTED = utcnow()  # a build row still «building» from before this is no build of this process's


def settle_interrupted(settings: Settings, db: Database) -> int:
    """Close the build rows a stopped or killed portal process left «building»; how many. This node's manifest
    is the truth: a row whose commit the edition is served from was swapped in before the process went
    (built), any other was cut off (cancelled: no back-off, the job builds HEAD again at once). Rows started
    by this process are left alone, they may be running."""
    with db.session_scope() as session:
        rows = list(session.scalars(select(SiteBuild).where(SiteBuild.status == "building",
                                                            SiteBuild.started_at < _PROCESS_STARTED)))
        for row in rows:
            current = served(settings, row.edition)
            row.status = "built" if current is not None and current.commit == row.commit else "cancelled"
            row.finished_at = utcnow()
        return len(rows)


def unreconciled(settings: Settings, head: str) -> list[str]:
    """Editions served at ``head`` from an incremental build, which a full build is still to replace."""
    return [e for e in EDITIONS if (s := served(settings, e)) is not None and s.commit == head
            and s.mode == "incremental"]


def commits_behind(content: ContentRepo, commit: str | None, head: str) -> int | None:
    """How many commits ``commit`` is behind ``head`` (None: never built, or not in this history)."""
    if not commit:
        return None
    if commit == head:
        return 0
    try:
        with content.repo() as repo:
            return int(repo.git.rev_list("--count", f"{commit}..{head}"))
    except Exception:  # a commit this node's repository does not have (yet): unknown distance
        return None


# --- building -------------------------------------------------------------------------------------

@dataclass
class BuildResult:
    edition: str
    commit: str
    status: str  # built | failed | skipped | cancelled
    pages: int = 0
    seconds: float = 0.0
    error: str = ""
    peak_rss_kib: int = 0  # of the MkDocs process
    mode: str = "full"  # full | incremental
    rendered: int = 0  # pages rendered (incremental: only the changed ones)
    timings: dict[str, float] = field(default_factory=dict)  # where the time went


Cancel = Callable[[], bool]  # asked while a build runs: True abandons it (a newer commit arrived)


def build(*, settings: Settings, db: Database, editions: list[str] | None = None, force: bool = False,
          trigger: str = "job", progress: Progress | None = None, incremental: bool = True,
          cancel: Cancel | None = None, background: bool = False) -> list[BuildResult]:
    """Build the stale (or, with ``force``, all requested — in full) editions from the content repository's HEAD.

    An edition served from a build with the same configuration and theme is built incrementally (only what
    changed is rendered, ``site_incremental.py``), unless ``incremental`` is false or ``force`` is given;
    otherwise in full. ``cancel`` is asked while MkDocs runs: true abandons the build (status cancelled).
    ``background`` runs the full builds at a lower CPU priority (``BACKGROUND_NICENESS``): the reconciliation
    must not take the cores a publish, a search or a page needs."""
    incremental = incremental and not force
    content = ContentRepo(settings)
    head = content.head()
    wanted = editions or list(EDITIONS)
    for edition in wanted:
        if edition not in EDITIONS:
            raise Invalid.fields({"edition": i18n.message("kb_labels.unknown_edition", edition=edition,
                                                          editions=", ".join(EDITIONS))})
    with db.session_scope() as session:
        todo = [e for e in wanted if force or is_stale(session, settings, e, head)]
        rows = {}
        for edition in todo:
            row = SiteBuild(edition=edition, commit=head, status="building", trigger=trigger[:40],
                            started_at=utcnow())
            session.add(row)
            session.flush()
            rows[edition] = row.id
    results = [BuildResult(e, head, "skipped") for e in wanted if e not in todo]
    if not todo:
        return results
    settings.site_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kb-build-", dir=settings.site_path) as tmp:
        work = Path(tmp)
        started = time.monotonic()
        for edition in todo:
            if progress:
                progress(edition, "prepare")
        # Export, preparation and the incremental builds run in the node's warm build worker, outside this
        # (web) process's GIL; MkDocs, Material and the Markdown extensions are imported there already.
        request = {"op": "build", "settings": settings.model_dump(mode="json", include=_WORKER_SETTINGS),
                   "commit": head, "editions": todo, "work": str(work), "incremental": incremental,
                   "cwd": str(work)}
        try:
            # A prepare-only request (every edition in full: MkDocs does not run) is interrupted by a newer
            # commit, and the warm worker is kept for that commit's build; an incremental one stops the worker.
            reply = BUILD_WORKER.run(request, cancel=cancel, interruptible=not incremental)
        except site_worker.WorkerCancelled:
            return results + [_finish(db, rows[e], BuildResult(
                e, head, "cancelled", mode="incremental" if incremental else "full",
                seconds=time.monotonic() - started)) for e in todo]
        except site_worker.WorkerFailed as exc:  # died or hung (replaced): prepared here, built in full
            log.error("the build worker failed at %s, building in full: %s", head[:12], exc)
            reply = run_build_request({**request, "incremental": False})
        if reply.get("error"):  # nothing to build from: every edition fails with the reason
            return results + [_finish(db, rows[e], BuildResult(e, head, "failed", error=reply["error"])) for e in todo]
        if not incremental and cancel is not None and cancel():
            return results + [_finish(db, rows[e], BuildResult(
                e, head, "cancelled", seconds=time.monotonic() - started)) for e in todo]
        prepared = [_Prepared.from_reply(settings, head, started, item) for item in reply["editions"]]
        env = reply["env"]

        def done(job: _Prepared, result: BuildResult) -> BuildResult:
            if progress:
                progress(job.edition, result.status)
            return _finish(db, rows[job.edition], result)

        reports = {r["edition"]: r for r in reply.get("reports", [])}
        for job in prepared:  # the incremental editions, built: swapped in before any full build starts
            if job.mode == "incremental":
                result = _incremental_result(job, reports.get(job.edition), reply)
                if result is not None:
                    results.append(done(job, result))
        full_jobs = [job for job in prepared if job.mode == "full"]
        if full_jobs:
            with ThreadPoolExecutor(max_workers=max(1, min(len(full_jobs), os.cpu_count() or 1))) as pool:
                results += list(pool.map(lambda job: done(job, _run_full(job, env, cancel, background)),
                                         full_jobs))
    if not any(r.status == "cancelled" for r in results):  # else a newer commit waits: the next build removes them
        for edition in todo:
            _remove_old_builds(settings, edition)
    return results


def _finish(db: Database, row_id: int, result: BuildResult) -> BuildResult:
    with db.session_scope() as session:
        row = session.get_one(SiteBuild, row_id)  # there: build() added it, and build rows are never deleted
        row.status = result.status  # built | failed | cancelled (abandoned for a newer commit: no back-off)
        row.finished_at = utcnow()
        row.duration_ms = int(result.seconds * 1000)
        row.pages = result.pages
        row.error = result.error[-8000:] or None
        if result.mode == "incremental" and result.status == "built":
            row.trigger = f"{row.trigger[:28]}:incremental"
    return result


def _commit_epoch(content: ContentRepo, commit: str) -> int:
    """The commit's time: MkDocs' build date (``SOURCE_DATE_EPOCH``), so a build of a commit is the same
    whenever it runs — the sitemap's dates, the gzip header — and an incremental build equals a full one."""
    with content.repo() as repo:
        return int(repo.commit(commit).committed_date)
def _export(content: ContentRepo, commit: str, target: Path) -> Path:
    """The commit's mkdocs.yml and kb/ as plain files (git archive), outside any repository."""
    target.mkdir(parents=True)
    archive = target.parent / "source.tar"
    with content.repo() as repo, archive.open("wb") as out:
        present = [p for p in ("mkdocs.yml", articles.KB_DIR)
                   if repo.git.ls_tree("--name-only", commit, "--", p).strip()]
        repo.git.archive("--format=tar", commit, "--", *present, output_stream=out)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return target


SOURCE_DIR = "source"  # in .builds/: the last built commit's mkdocs.yml and kb/, updated in place from the diff


@contextlib.contextmanager
def _source_tree(settings: Settings, content: ContentRepo, commit: str, work: Path) -> Iterator[tuple[Path, str]]:
    """(the commit's mkdocs.yml and kb/ as plain files, how they were made): this node's copy of the previous
    build's files brought to ``commit`` by applying the git diff (``updated``: a publish rewrites a few files,
    not thousands), or a fresh export (``exported``) when there is no complete copy, its commit is unknown
    here, or another process's build holds the copy (then into ``work``, as every build did before).

    The copy is complete only while its stamp (``source.json``: the commit) exists: the stamp is removed
    before the files change and written after, so a build cut off midway leaves no copy taken for whole.
    The copy is held under an exclusive file lock for as long as the caller reads it."""
    builds = settings.site_path / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    copy, stamp = builds / SOURCE_DIR, builds / f"{SOURCE_DIR}.json"
    with (builds / f"{SOURCE_DIR}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process builds from the copy: export apart
            yield _export(content, commit, work / SOURCE_DIR), "exported"
            return
        try:
            prior = json.loads(stamp.read_text(encoding="utf-8"))["commit"] if stamp.exists() else None
        except (OSError, ValueError, KeyError):
            prior = None
        stamp.unlink(missing_ok=True)
        how = "updated" if prior and copy.is_dir() and _apply_diff(content, prior, commit, copy) else "exported"
        if how == "exported":
            shutil.rmtree(copy, ignore_errors=True)
            _export(content, commit, copy)
        _write_atomically(stamp, json.dumps({"commit": commit}))
        yield copy, how


def _apply_diff(content: ContentRepo, prior: str, commit: str, copy: Path) -> bool:
    """Bring ``copy`` (the files of ``prior``) to ``commit``: the changed files of mkdocs.yml and kb/ taken from
    git, the deleted removed. False when git cannot tell (``prior`` is not in this repository)."""
    paths = ("mkdocs.yml", articles.KB_DIR)
    try:
        with content.repo() as repo:
            out = repo.git.diff("--no-renames", "--name-status", "-z", prior, commit, "--", *paths)
            fields = [f for f in out.split("\0") if f]
            changed = list(zip(fields[::2], fields[1::2]))  # (status, path)
            present = [path for status, path in changed if not status.startswith("D")]
            if present:
                archive = copy.parent / f".{SOURCE_DIR}-{uuid.uuid4().hex[:8]}.tar"
                try:
                    with archive.open("wb") as stream:
                        repo.git.archive("--format=tar", commit, "--", *present, output_stream=stream)
                    with tarfile.open(archive) as tar:
                        tar.extractall(copy, filter="data")
                finally:
                    archive.unlink(missing_ok=True)
    except Exception:  # an unknown commit (history rewritten, a fresh clone): export instead
        log.info("knowledge-base source copy not updatable from %s to %s: exporting", prior[:12], commit[:12])
        return False
    for status, path in changed:
        if status.startswith("D"):
            (copy / path).unlink(missing_ok=True)
            parent = (copy / path).parent
            while parent != copy and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    return True


def _revision_dates(content: ContentRepo, commit: str, tz: str) -> dict[str, str]:
    """``{path: "dd.mm.yyyy"}`` — the day each file under kb/ last changed, from one pass over git log."""
    with content.repo() as repo:
        out = repo.git.log("--format=%x1e%aI", "--name-only", commit, "--", articles.KB_DIR)
    dates: dict[str, str] = {}
    zone = ZoneInfo(tz)
    for chunk in out.split("\x1e"):
        lines = [line for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        day = dt.datetime.fromisoformat(lines[0]).astimezone(zone).strftime("%d.%m.%Y")
        for path in lines[1:]:
            dates.setdefault(path, day)
    return dates


@dataclass
class _Page:
    section: str
    module: str
    title: str
    rel: str  # path inside docs_dir
    kind: str = ""


def config_key(config: dict[str, Any]) -> str:
    """What every page of an edition depends on: the generated configuration less what changes with each
    commit (docs, output, navigation — the navigation is a fragment of its own), the portal's theme layer and
    hooks, and the versions of MkDocs and Material. An incremental build is made only onto a build with the
    same key; anything else is built in full."""
    digest = hashlib.sha256()
    stable = {k: v for k, v in config.items() if k not in ("docs_dir", "site_dir", "nav")}
    digest.update(json.dumps(stable, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    for path in sorted(p for p in THEME_DIR.rglob("*") if p.is_file()) + [HOOKS_FILE, INCREMENTAL_FILE]:
        digest.update(path.relative_to(THEME_DIR.parent).as_posix().encode("utf-8"))
        digest.update(path.read_bytes())
    for package in ("mkdocs", "mkdocs-material", "pymdown-extensions", "markdown"):
        try:
            digest.update(f"{package}={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            pass
    return digest.hexdigest()


@dataclass
class _Prepared:
    """One edition ready to build: its filtered docs and generated configuration written."""
    settings: Settings
    edition: str
    commit: str
    work: Path
    config_file: Path
    out: Path
    key: str
    pages: int
    mode: str  # incremental | full
    current: Served | None
    started: float
    timings: dict[str, float]

    def to_reply(self) -> dict[str, Any]:
        return {"edition": self.edition, "work": str(self.work), "config_file": str(self.config_file),
                "out": str(self.out), "key": self.key, "pages": self.pages, "mode": self.mode,
                "timings": self.timings}

    @classmethod
    def from_reply(cls, settings: Settings, commit: str, started: float, item: dict[str, Any]) -> _Prepared:
        """An edition the worker prepared. Incremental only onto the build still served (``build`` holds the
        node's job lease, so nothing else swaps one in meanwhile; checked all the same)."""
        current = served(settings, item["edition"]) if item["mode"] == "incremental" else None
        mode = "incremental" if current is not None and current.config_key == item["key"] else "full"
        if mode != item["mode"]:  # its hard-linked copy must not be written into by a full build
            _discard(Path(item["out"]))
        return cls(settings, item["edition"], commit, Path(item["work"]), Path(item["config_file"]), Path(item["out"]),
                   item["key"], item["pages"], mode, current, started, dict(item["timings"]))


def _prepare(*, settings: Settings, edition: str, commit: str, source: Path, config: dict[str, Any],
             dates: dict[str, str], work: Path, incremental: bool, parsed: _ParsedArticles) -> _Prepared:
    started = time.monotonic()
    docs = work / "docs"
    docs.mkdir(parents=True)
    pages = _filtered_docs(source / articles.KB_DIR, docs, EDITIONS[edition], dates, edition, parsed,
                           lang=edition_language(config))
    builds = settings.site_path / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    out = builds / f"{edition}-{commit[:12]}-{uuid.uuid4().hex[:8]}"
    generated = _edition_config(settings, config, docs, out, pages, edition)
    key = config_key(generated)
    config_file = work / "mkdocs.yml"
    config_file.write_text(yaml.dump(generated, Dumper=_YAML_DUMPER, allow_unicode=True, sort_keys=False),
                           encoding="utf-8")
    current = served(settings, edition) if incremental else None
    mode = "incremental" if current is not None and current.config_key == key else "full"
    return _Prepared(settings, edition, commit, work, config_file, out, key, len(pages), mode, current, started,
                     {"prepare_docs": round(time.monotonic() - started, 3)})


_WORKER_SETTINGS = {"home", "content_repo", "timezone", "base_url"}  # what a build reads of the settings


def run_build_request(request: dict[str, Any]) -> dict[str, Any]:
    """The build worker's side of ``build``: export the commit, prepare each edition's docs and configuration,
    and build the editions that can be built incrementally (``site_incremental``, every one in this process).
    Returns what ``build`` needs to swap them in or build the others in full (plain data: it crosses a pipe).
    With ``incremental`` false only the preparation is done (and MkDocs is not imported): so ``build`` runs it
    in its own process when the worker failed."""
    settings = Settings(**request["settings"])
    content = ContentRepo(settings)
    head, work = request["commit"], Path(request["work"])
    with contextlib.ExitStack() as holding:
        try:
            mark = time.monotonic()
            source, how = holding.enter_context(_source_tree(settings, content, head, work))
            exported = time.monotonic() - mark
            dates = _revision_dates(content, head, settings.timezone)
            dated = time.monotonic() - mark - exported
            epoch = _commit_epoch(content, head)
            config = read_config((source / "mkdocs.yml").read_text(encoding="utf-8")
                                 if (source / "mkdocs.yml").exists() else "")
        except Exception as exc:
            return {"error": str(exc)}
        parsed = _ParsedArticles()
        prepared = []
        for edition in request["editions"]:
            prepared.append(_prepare(settings=settings, edition=edition, commit=head, source=source,
                                     config=config, dates=dates, work=work / edition,
                                     incremental=request["incremental"], parsed=parsed))
            prepared[-1].timings.update({f"git_{how}": round(exported, 3), "git_dates": round(dated, 3)})
    env = {"SOURCE_DATE_EPOCH": str(epoch),
           TEMPLATE_CACHE_ENV: str(settings.site_path / BUILDS_DIR / TEMPLATE_CACHE_DIR)}
    reply: dict[str, Any] = {"env": env, "editions": [job.to_reply() for job in prepared]}
    incremental = [job for job in prepared if job.mode == "incremental"]
    if incremental:
        from portal.knowledge import site_incremental  # MkDocs: only ever imported in the worker

        mark = time.monotonic()
        batch = []
        for job in incremental:
            assert job.current is not None
            _link_tree(job.current.directory, job.out)
            previous = job.work / "previous-manifest.json"
            previous.write_text(json.dumps(job.current.manifest, ensure_ascii=False), encoding="utf-8")
            batch.append({"edition": job.edition, "config_file": str(job.config_file),
                          "previous_manifest": str(previous), "manifest": str(_manifest_path(job.out))})
        reply["link_copy"] = round(time.monotonic() - mark, 3)
        with site_worker.environment(env):
            reply["reports"] = site_incremental.run_batch(batch)
    return reply


def _incremental_result(job: _Prepared, report: dict | None, reply: dict[str, Any]) -> BuildResult | None:
    """The edition the worker built incrementally, swapped in; None when its incremental build failed (it is
    built in full instead: ``job.mode`` becomes full)."""
    if report is None or report.get("error"):
        _discard(job.out)
        log.error("incremental build of %s at %s failed, building in full: %s", job.edition, job.commit[:12],
                  report["error"] if report else "no report from the build worker")
        job.mode = "full"
        return None
    job.timings.update(link_copy=reply.get("link_copy", 0.0),
                       **{f"incremental.{k}": v for k, v in report["timings"].items()})
    return _complete(job, rendered=len(report["rendered"]), pages=report["pages"],
                     peak=reply.get("peak_rss_kib", 0))


def _run_full(job: _Prepared, env: dict[str, str], cancel: Cancel | None, background: bool = False) -> BuildResult:
    mark = time.monotonic()
    proc, peak = run_module("mkdocs", ["build", "--quiet", "--config-file", str(job.config_file)], cwd=job.work,
                            env={**env, MANIFEST_ENV: str(_manifest_path(job.out))}, cancel=cancel,
                            niceness=BACKGROUND_NICENESS if background else 0)
    job.timings["mkdocs_build"] = round(time.monotonic() - mark, 3)
    seconds = time.monotonic() - job.started
    if proc.returncode == _CANCELLED:
        _discard(job.out, later=True)
        return BuildResult(job.edition, job.commit, "cancelled", seconds=seconds, peak_rss_kib=peak)
    missing = [] if proc.returncode != 0 else [
        name for name, path in (("index.html", job.out / "index.html"), ("manifest", _manifest_path(job.out)))
        if not path.exists()]
    if proc.returncode != 0 or missing:
        _discard(job.out)
        return BuildResult(job.edition, job.commit, "failed", seconds=seconds, error=_full_build_error(proc, missing),
                           peak_rss_kib=peak)
    return _complete(job, rendered=job.pages, pages=job.pages, peak=peak)


def _full_build_error(proc: subprocess.CompletedProcess, missing: list[str]) -> str:
    """Why a full build failed, so the builds page and a test's failure say it: MkDocs' own error, the time-out,
    a signal from outside the portal (another program, an operator, the kernel's OOM killer), or an output
    without its start page or manifest."""
    if proc.returncode == _TIMED_OUT:
        return i18n.translate("kb_site_errors.timed_out", seconds=MKDOCS_TIMEOUT)
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = str(-proc.returncode)
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-10:])
        return i18n.translate("kb_site_errors.signalled", signal=name) + (f"\n{tail}" if tail else "")
    if missing:
        return i18n.translate("kb_site_errors.incomplete", missing=", ".join(missing)) + (
            f"\n{_mkdocs_error(proc)}" if (proc.stderr or proc.stdout or "").strip() else "")
    return _mkdocs_error(proc)


def _complete(job: _Prepared, *, rendered: int, pages: int, peak: int) -> BuildResult:
    """Record commit, mode and configuration key in the build's manifest, and swap the build in."""
    manifest = json.loads(_manifest_path(job.out).read_text(encoding="utf-8"))
    manifest.update(commit=job.commit, mode=job.mode, config_key=job.key)
    _write_atomically(_manifest_path(job.out), json.dumps(manifest, ensure_ascii=False, sort_keys=True))
    mark = time.monotonic()
    _swap(job.settings, job.edition, job.out)
    job.timings["swap"] = round(time.monotonic() - mark, 3)
    return BuildResult(job.edition, job.commit, "built", pages=pages, seconds=time.monotonic() - job.started,
                       peak_rss_kib=peak, mode=job.mode, rendered=rendered, timings=job.timings)


def _link_tree(source: Path, target: Path) -> None:
    """A copy of a build made of hard links: instant, and the builds write each changed file as a new inode."""
    for root, dirs, files in os.walk(source):
        base = target / Path(root).relative_to(source)
        base.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(root) / name, base / name)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


_TRASH = ".trash-"  # builds abandoned midway, removed after the next swap (not while a publish waits)


def _discard(out: Path, *, later: bool = False) -> None:
    """Remove an unfinished build; ``later``: only rename it out of the way now (one rename instead of
    thousands of unlinks before the next build can start), ``_remove_old_builds`` removes it after a swap."""
    _manifest_path(out).unlink(missing_ok=True)
    if later and out.exists():
        try:
            out.rename(out.with_name(f"{_TRASH}{out.name}"))
            return
        except OSError:
            pass
    shutil.rmtree(out, ignore_errors=True)


# run_module's return codes for a process the portal stopped itself (no signal's code is this low): a build
# abandoned for a newer commit or stopped with the server is «cancelled»; one that ran past MKDOCS_TIMEOUT failed.
# A process killed by anyone else keeps its signal's code (-15 for SIGTERM) and is a failure that names it.
_CANCELLED = -1000
_TIMED_OUT = -1001


_RUNNING: set[subprocess.Popen] = set()  # this process's build processes, stopped with it
_STOPPED: set[subprocess.Popen] = set()  # of those, the ones this process stopped itself (cancel, exit)
_running_lock = threading.Lock()
NICENESS_ENV = "PORTAL_KB_NICENESS"  # read by _RUNNER: the child lowers its own priority first
BACKGROUND_NICENESS = 10  # the full builds that replace incremental ones: a publish's build comes first


def run_module(module: str, args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
               cancel: Cancel | None = None, niceness: int = 0) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``python -m module`` in a child process; (the finished process, its peak resident memory in KiB).
    With ``cancel``, asked four times a second: when it says so, the process is stopped (return code
    ``_CANCELLED``; ``_TIMED_OUT`` after ``MKDOCS_TIMEOUT``; a signal from elsewhere leaves its own code).
    ``niceness`` lowers the child's CPU priority. The child ends with this process: stopped at exit, and it
    leaves by itself when this process is killed."""
    proc = subprocess.Popen([sys.executable, "-c", _RUNNER, module, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore", NICENESS_ENV: str(niceness),
                                 **(env or {})})
    with _running_lock:
        _RUNNING.add(proc)
    timed_out = False
    try:
        deadline = time.monotonic() + MKDOCS_TIMEOUT
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.25 if cancel else MKDOCS_TIMEOUT)
                break
            except subprocess.TimeoutExpired:
                timed_out = time.monotonic() > deadline
                if timed_out or (cancel is not None and cancel()):
                    if not timed_out:
                        with _running_lock:
                            _STOPPED.add(proc)
                    proc.terminate()
                    stdout, stderr = proc.communicate()
                    break
    finally:
        with _running_lock:
            _RUNNING.discard(proc)
            stopped = proc in _STOPPED
            _STOPPED.discard(proc)
    peak, kept = 0, []
    for line in (stderr or "").splitlines():
        if line.startswith(_PEAK_MARK):
            peak = int(line[len(_PEAK_MARK):])
        else:
            kept.append(line)
    code = _CANCELLED if stopped else _TIMED_OUT if timed_out else proc.returncode
    return subprocess.CompletedProcess(proc.args, code, stdout, "\n".join(kept)), peak


@atexit.register
def _stop_running() -> None:
    """At the server's exit, stop the build processes its scheduler thread still waits for: nothing writes
    into the data home after the server is gone (the swap never happens, so the edition stays as it was)."""
    with _running_lock:
        running = list(_RUNNING)
        _STOPPED.update(running)
    for proc in running:
        if proc.poll() is None:
            proc.terminate()
    for proc in running:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_mkdocs(args: list[str], *, cwd: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run MkDocs in a child process; (the finished process, its peak resident memory in KiB)."""
    return run_module("mkdocs", args, cwd=cwd)


_PEAK_MARK = "portal-mkdocs-peak-rss-kib="
# `python -m <module>`, reporting its own peak memory on the way out (the build's cost, for the benchmark):
# VmHWM of the process's own address space (ru_maxrss would include the parent's size from before exec).
_RUNNER = (
    "import atexit, os, re, resource, runpy, sys, threading, time\n"
    f"os.nice(int(os.environ.pop('{NICENESS_ENV}', '0') or 0))\n"
    "def _leave_with_parent(parent):\n"  # the server was killed (no atexit): this build is nobody's
    "    while os.getppid() == parent:\n"
    "        time.sleep(1.0)\n"
    "    os._exit(1)\n"
    "threading.Thread(target=_leave_with_parent, args=(os.getppid(),), daemon=True).start()\n"
    "def _peak():\n"
    "    try:\n"
    "        return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    "    except (OSError, AttributeError):\n"
    "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    f"atexit.register(lambda: sys.stderr.write('\\n{_PEAK_MARK}%d\\n' % _peak()))\n"
    "module = sys.argv[1]\n"
    "sys.argv = [module] + sys.argv[2:]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def _mkdocs_error(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    errors = [line for line in lines if "ERROR" in line or "Error" in line or "Aborted" in line]
    return "\n".join(errors[-20:] or lines[-30:]) or i18n.message("kb_labels.mkdocs_exit", code=proc.returncode)


def _swap(settings: Settings, edition: str, out: Path) -> None:
    """Point ``site/<edition>`` at the new build in one rename; keep the previous build for readers mid-page."""
    link = edition_dir(settings, edition)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    tmp_link = link.with_name(f".{edition}-{uuid.uuid4().hex[:8]}")
    os.symlink(os.path.relpath(out, link.parent), tmp_link)
    os.replace(tmp_link, link)


def _remove_old_builds(settings: Settings, edition: str) -> None:
    """Remove the edition's builds older than the one before the served one (kept for readers mid-page); done
    after every edition is swapped in, so removing thousands of pages delays no edition's publication."""
    current = served(settings, edition)
    if current is None:
        return
    previous = sorted((p for p in current.directory.parent.glob(f"{edition}-*")
                       if p != current.directory and p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in previous[:-1]:
        _discard(old, later=True)
    trash = sorted(current.directory.parent.glob(f"{_TRASH}{edition}-*"))
    if trash:  # thousands of unlinks: in a process of their own at the lowest priority, not in this build's way
        subprocess.Popen(["nice", "-n", "19", "rm", "-rf", "--", *map(str, trash)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


_PARSED: dict[tuple[str, str], Any] = {}  # (path, sha-1 of the text) → the article read (None: left out)
_PARSED_LIMIT = 50_000
_PAGE_TEXTS: dict[tuple[str, ...], str] = {}  # (path, sha-1 of the source, date, edition, language) → page text
_parsed_lock = threading.Lock()


class _ParsedArticles:
    """Each article file read once: per build for all editions, and across the builds of this process (the
    build worker lives as long as the server) for every file whose text has not changed — parsing thousands
    of front matters is most of a build's preparation. ``page`` does the same for the page text written."""

    def __init__(self) -> None:
        self._read: dict[str, Any] = {}
        self._digest: dict[str, str] = {}

    def page(self, rel: str, article: articles.Article, revision_date: str | None, edition: str,
             slug: str, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
        """``_page_text`` of the article read from ``rel``, kept for the next build while its source is unchanged
        (the same source, date and edition make the same page: the YAML of thousands of pages is not redone)."""
        key = (rel, self._digest[rel], revision_date or "", edition, lang)
        with _parsed_lock:
            text = _PAGE_TEXTS.get(key)
        if text is None:
            text = _page_text(article.meta, article.body, revision_date, edition, slug=slug, lang=lang)
            with _parsed_lock:
                if len(_PAGE_TEXTS) >= _PARSED_LIMIT:
                    _PAGE_TEXTS.clear()
                _PAGE_TEXTS[key] = text
        return text

    def __call__(self, path: Path, rel: str):
        if rel not in self._read:
            text = path.read_text(encoding="utf-8")
            key = (rel, hashlib.sha1(text.encode("utf-8")).hexdigest())
            self._digest[rel] = key[1]
            with _parsed_lock:
                known = key in _PARSED
                article = _PARSED.get(key)
            if not known:
                try:
                    article = articles.read_published(f"{articles.KB_DIR}/{rel}", text)
                except Invalid:  # left out of every edition and of search; `portal kb check` and /articles name it
                    article = None
                with _parsed_lock:
                    if len(_PARSED) >= _PARSED_LIMIT:
                        _PARSED.clear()
                    _PARSED[key] = article
            self._read[rel] = article
        return self._read[rel]


def _filtered_docs(kb: Path, docs: Path, visible: frozenset[str], dates: dict[str, str],
                   edition: str, read: _ParsedArticles | None = None, *, lang: str = i18n.DEFAULT_LANGUAGE
                   ) -> list[_Page]:
    """Copy what this edition may show into ``docs``; return the article pages for the navigation."""
    read = read or _ParsedArticles()
    pages: list[_Page] = []
    sections_used: set[str] = set()
    for path in sorted(kb.rglob("*")):
        rel = path.relative_to(kb).as_posix()
        if path.is_dir() or rel.startswith(articles.TEMPLATES_DIR + "/"):
            continue
        target = docs / rel
        if not rel.endswith(".md"):
            if path.suffix.lower() in ASSET_SUFFIXES:  # pictures and attachments articles link to
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            continue
        names = articles.split_path(f"{articles.KB_DIR}/{rel}")
        if names is None:
            continue  # index pages are written below, once we know which sections have articles
        article = read(path, rel)
        if article is None or article.visibility not in visible:
            continue
        fm = article.meta
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(read.page(rel, article, dates.get(f"{articles.KB_DIR}/{rel}"), edition, names[1], lang),
                          encoding="utf-8")
        pages.append(_Page(names[0], fm.module or MODULE_FALLBACK.in_language(lang), fm.title, rel, fm.kind))
        sections_used.add(names[0])
    for index in sorted(kb.glob("*/index.md")) + [kb / "index.md"]:
        rel = index.relative_to(kb).as_posix()
        section = rel.split("/")[0] if "/" in rel else ""
        if not index.exists() or (section and (section not in sections_used or section == articles.TEMPLATES_DIR)):
            continue
        try:
            meta, body = frontmatter.split(index.read_text(encoding="utf-8"))
        except frontmatter.FrontMatterError:
            meta, body = {}, index.read_text(encoding="utf-8")
        title = meta.get("title") or (_fallback_title(section, pages, lang) if section else
                                        i18n.translate("kb_labels.site.home", lang))
        page_meta = {"title": title}
        if dates.get(f"{articles.KB_DIR}/{rel}"):
            page_meta["revision_date"] = dates[f"{articles.KB_DIR}/{rel}"]
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(_with_meta(page_meta, body), encoding="utf-8")
    for section in sorted(sections_used):
        index = docs / section / "index.md"
        if not index.exists():  # no index.md of its own: a title page in Russian listing the section's articles
            title = _fallback_title(section, pages, lang)
            listing = "".join(f"- [{md_text(p.title)}]({p.rel.rpartition('/')[2]})\n"
                              for p in sorted(pages, key=lambda p: p.title.lower()) if p.section == section)
            index.write_text(_with_meta({"title": title}, f"# {md_text(title)}\n\n{listing}"), encoding="utf-8")
    tags = i18n.translate("kb_labels.site.tags", lang)
    (docs / "tags.md").write_text(f"---\ntitle: {tags}\n---\n\n# {tags}\n\n<!-- material/tags -->\n",
                                  encoding="utf-8")
    return pages


# libyaml's emitter when present: the same text as PyYAML's own, a fourth of the time (a page each, every build)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _with_meta(meta: dict[str, Any], body: str) -> str:
    head = yaml.dump(meta, Dumper=_YAML_DUMPER, allow_unicode=True, sort_keys=False)
    return f"---\n{head}---\n\n{body.lstrip(chr(10))}"


def _page_text(fm: articles.FrontMatter, body: str, revision_date: str | None, edition: str, *,
               slug: str = "", lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """The page MkDocs renders: title, tags and date for the theme, a short card of the article's facts;
    ``article`` (the slug) tells the theme it is an article («Не помогло? Создать заявку»)."""
    meta: dict[str, Any] = {"title": fm.title, "tags": fm.tags}
    if slug:
        meta["article"] = slug
    if fm.summary:
        meta["description"] = fm.summary
    if revision_date:
        meta["revision_date"] = revision_date
    facts = []
    module, versions, tickets = (i18n.translate(f"kb_labels.site.{name}", lang)
                                 for name in ("module", "versions", "tickets"))
    if fm.module:
        facts.append(f"**{module}:** {md_text(fm.module)}")
    if fm.product_versions:
        facts.append(f"**{versions}:** {md_text(', '.join(fm.product_versions))}")
    # No package is named in the built page: whether a reader may know of one depends on their organisation's
    # entitlement, so «Исправлено в пакете …» comes per reader from the portal (theme article.js, feedback.py).
    if fm.tickets:
        if edition == "staff":
            facts.append(f"**{tickets}:** " + ", ".join(f"[{md_text(t)}](/tickets/{quote(t)})" for t in fm.tickets))
        else:
            facts.append(f"**{tickets}:** {md_text(', '.join(fm.tickets))}")
    card = ""
    if fm.summary:
        card += f"*{md_text(fm.summary)}*\n\n"
    if facts:
        card += " · ".join(facts) + "\n{ .kb-facts }\n\n"
    text = body.lstrip("\n")
    if not text.startswith("# "):
        text = f"# {md_text(fm.title)}\n\n{card}{text}"
    else:
        first, _, rest = text.partition("\n")
        text = f"{first}\n\n{card}{rest.lstrip(chr(10))}"
    return _with_meta(meta, text)


# Python-Markdown's backslash escapes (Markdown.ESCAPED_CHARS); ``<`` and ``&`` become entities instead.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()>#+\-.!])")


def md_text(value: str) -> str:
    """Plain text as Markdown that renders it as typed, on one line: no markup, link or attribute list."""
    flat = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", flat.replace("&", "&amp;").replace("<", "&lt;"))


def _edition_config(settings: Settings, config: dict[str, Any], docs: Path, out: Path, pages: list[_Page],
                    edition: str) -> dict[str, Any]:
    built: dict[str, Any] = {k: config[k] for k in CONFIG_KEYS if k in config}
    lang = edition_language(config)
    built.setdefault("site_name", i18n.translate("kb_labels.site.name", lang))
    theme: dict[str, Any] = built["theme"] if isinstance(built.get("theme"), dict) else {}
    features = list(theme.get("features") or [])
    if "navigation.prune" not in features:  # without it every page repeats the whole navigation: O(pages²)
        features.append("navigation.prune")
    theme = {k: v for k, v in theme.items() if k != "custom_dir"}  # templates from git would run as code
    theme = {**theme, "name": "material", "language": theme.get("language", "ru"), "font": False,
             "features": features, "custom_dir": str(THEME_DIR)}
    built["theme"] = theme
    built["docs_dir"] = str(docs)
    built["site_dir"] = str(out)
    built["site_url"] = settings.base_url.rstrip("/") + "/kb/"
    built["use_directory_urls"] = True
    built["plugins"] = _plugins(config.get("plugins"))
    built["hooks"] = [str(HOOKS_FILE)]  # the portal's own, never the repository's
    # Not the repository's ``extra``: Material prints it unescaped and loads scripts it names (polyfills,
    # analytics).
    built["extra"] = {"edition": edition, "generator": False}
    built["nav"] = _nav(docs, pages, lang)
    built["exclude_docs"] = "templates/\n"
    return built


def _plugins(configured: Any) -> list[Any]:
    plugins: list[Any] = []
    for item in configured or ["search", "tags"]:
        name = item if isinstance(item, str) else next(iter(item), "") if isinstance(item, dict) else ""
        if name in PLUGINS:
            plugins.append(item)
    names = {p if isinstance(p, str) else next(iter(p)) for p in plugins}
    if "search" not in names:
        plugins.insert(0, {"search": {"lang": ["ru", "en"]}})
    if "tags" not in names:
        plugins.append("tags")
    return plugins


def edition_language(config: dict[str, Any]) -> str:
    """The language a site edition is built in — its theme's (``theme.language`` of mkdocs.yml), Russian unless
    that names another language the portal speaks. A built page has this one language, whoever reads it."""
    theme = config.get("theme") if isinstance(config.get("theme"), dict) else {}
    lang = str((theme or {}).get("language") or i18n.DEFAULT_LANGUAGE)
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def _fallback_title(section: str, pages: list[_Page], lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A title in the edition's language for a section whose ``index.md`` names none: the known section's label,
    else the plural label of the kind most of its articles are — never the folder's English name."""
    if section in articles.SECTION_NAMES:
        return articles.SECTION_NAMES[section].in_language(lang)
    kinds = [p.kind for p in pages if p.section == section and p.kind in articles.KIND_SECTION_NAMES]
    if kinds:
        return articles.KIND_SECTION_NAMES[max(sorted(set(kinds)), key=kinds.count)].in_language(lang)
    return articles.OTHER_SECTION_NAME.in_language(lang)


def _section_title(docs: Path, section: str, pages: list[_Page], lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    index = docs / section / "index.md"
    if index.exists():
        meta, _ = frontmatter.split(index.read_text(encoding="utf-8"))
        if meta.get("title"):
            return str(meta["title"])
    return _fallback_title(section, pages, lang)


def _nav(docs: Path, pages: list[_Page], lang: str = i18n.DEFAULT_LANGUAGE) -> list[Any]:
    """Navigation by section, then by module inside a section that has several."""
    nav: list[Any] = ["index.md"]
    titles = {section: _section_title(docs, section, pages, lang) for section in {p.section for p in pages}}
    for section in sorted(titles, key=lambda s: (titles[s].lower(), s)):
        in_section = [p for p in pages if p.section == section]
        items: list[Any] = []
        if (docs / section / "index.md").exists():
            items.append(f"{section}/index.md")
        modules = sorted({p.module for p in in_section}, key=str.lower)
        if len(modules) == 1:
            items += [{p.title: p.rel} for p in sorted(in_section, key=lambda p: p.title.lower())]
        else:
            for module in modules:
                items.append({module: [{p.title: p.rel} for p in sorted(in_section, key=lambda p: p.title.lower())
                                       if p.module == module]})
        nav.append({titles[section]: items})
    nav.append({i18n.translate("kb_labels.site.tags", lang): "tags.md"})
    return nav


def page_url(rel: str) -> str:
    """The site-relative URL of a docs path (``support/x.md`` → ``support/x/``), by ``articles.page_url``."""
    section, _, slug = rel.removesuffix(".md").rpartition("/")
    return articles.page_url(section, slug).removeprefix("/kb/")
