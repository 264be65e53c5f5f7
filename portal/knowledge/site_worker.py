"""The node's warm build worker: one long-lived process that has imported MkDocs, Material and the Markdown
extensions once and does a site build's work (``site.BUILD_WORKER`` runs ``site.run_build_request``: export
the commit, prepare each edition's docs, build incrementally what can be).

Starting a Python process and importing MkDocs and Material took most of a publish's incremental build
(about 4 of 6 s at 1,000 articles), and the export and preparation (a second or more of Python per build)
ran in the web process, taking its GIL from the requests. The worker pays the imports once per node, outside
any publish, and keeps all of it out of the web process. The full builds stay separate ``mkdocs build``
processes (``site.py``): they are long, run in parallel, at a lower priority, and are stopped by a newer
commit.

One JSON line per request on the worker's stdin, one JSON line per reply on a copy of its stdout (its own
fd 1 is pointed at stderr, so whatever MkDocs or a plugin prints cannot corrupt a reply). The parent
(``BuildWorker``, one per portal process):

* starts the worker on first use or when asked to warm it (the ``kb.build`` job does at every run), so a
  publish finds it ready;
* replaces it when it dies (its reply pipe closes) or hangs (no reply within ``REPLY_TIMEOUT``), and when a
  build is cancelled for a newer commit (the worker is killed mid-build and a new one started at once);
* stops it with the server (``atexit``); a worker whose parent is gone without that (killed) notices within a
  second and exits.

A worker killed mid-build leaves the served edition as it was: the build works in a hard-linked copy that
only ``site.py`` swaps in, after a complete reply.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

REPLY_TIMEOUT = 900.0  # seconds an incremental batch may take before the worker is taken for hung
CANCEL_POLL = 0.25  # how often a running build asks whether it is abandoned
INTERRUPT_GRACE = 5.0  # seconds an interrupted worker has to answer before it is killed and replaced
# Imported when the worker starts, before any request: what an incremental build of an edition loads (the
# portal's configuration names these plugins and extensions; a missing one only costs its import later).
PRELOAD = ("portal.knowledge.site_incremental", "portal.knowledge.mkdocs_hooks",
           "mkdocs.contrib.search", "material.plugins.search.plugin", "material.plugins.tags.plugin",
           "pymdownx.superfences", "pymdownx.details", "pymdownx.highlight", "markdown.extensions.admonition",
           "markdown.extensions.tables", "markdown.extensions.toc", "markdown.extensions.attr_list",
           "markdown.extensions.md_in_html", "nh3", "babel.core")
_ERROR_TAIL = 4000  # characters of the worker's stderr kept in an error


class WorkerCancelled(Exception):
    """The build was abandoned (a newer commit); the worker was stopped mid-build and replaced."""


class Interrupted(Exception):
    """Raised inside the worker by SIGUSR1 while it runs an interruptible request."""


class WorkerFailed(Exception):
    """The worker died or hung; it has been replaced. The message says what it printed last."""


Cancel = Callable[[], bool]


class BuildWorker:
    """This process's handle on its warm build worker (see the module's docstring)."""

    def __init__(self, handler: str, *, reply_timeout: float = REPLY_TIMEOUT) -> None:
        """``handler``: ``module:function`` the worker runs each request with (a name, not an import: the
        builds' module uses the worker, not the other way round)."""
        self.handler = handler
        self.reply_timeout = reply_timeout
        self._proc: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()  # one request at a time; start/stop under it too
        atexit.register(self.stop)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def warm(self) -> int:
        """Start the worker unless it is running; its pid. Returns at once: the imports happen in the worker."""
        with self._lock:
            return self._ensure().pid

    def run(self, request: dict[str, Any], *, cancel: Cancel | None = None,
            interruptible: bool = False) -> dict[str, Any]:
        """Send one request and wait for its reply. ``cancel`` is asked every ``CANCEL_POLL`` s: true abandons
        the request (``WorkerCancelled``). An ``interruptible`` request (one that does not run MkDocs: the
        preparation of full builds) is interrupted and the worker stays warm for the build that cancelled it;
        any other is stopped with the worker. A dead or hung worker raises ``WorkerFailed``. A worker stopped
        is replaced at once, so the next build finds one starting or ready."""
        with self._lock:
            if cancel is not None and cancel():  # abandoned before it was sent: the worker is not disturbed
                raise WorkerCancelled()
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._replace(proc, "the build worker was gone before the request") from None
            deadline = time.monotonic() + self.reply_timeout
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], CANCEL_POLL)
                if ready:
                    line = proc.stdout.readline()
                    if not line:
                        raise self._replace(proc, "the build worker died mid-build")
                    return json.loads(line)
                if proc.poll() is not None:
                    raise self._replace(proc, "the build worker died mid-build")
                # Asked only after the worker has had a poll's time to take the request up: a signal that came
                # before it did would be ignored, and the request run to its end.
                if cancel is not None and cancel():
                    if interruptible and self._interrupt(proc):
                        raise WorkerCancelled()
                    self._replace(proc, "")
                    raise WorkerCancelled()
                if time.monotonic() > deadline:
                    raise self._replace(proc, f"the build worker gave no answer in {self.reply_timeout:.0f} s")

    def _interrupt(self, proc: subprocess.Popen) -> bool:
        """Ask the worker to abandon the request it runs (SIGUSR1); True when it answered, whatever it answered
        (a reply that crossed the signal is dropped: the caller abandons the request anyway)."""
        assert proc.stdout is not None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGUSR1)
        ready, _, _ = select.select([proc.stdout], [], [], INTERRUPT_GRACE)
        return bool(ready) and bool(proc.stdout.readline())

    def stop(self) -> None:
        """End the worker: its stdin closes (it exits between builds), then it is killed if it lingers."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                _end(proc)
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            if self._stderr is not None:
                self._stderr.close()
            # What the worker prints (MkDocs' warnings, a crash's traceback): kept for the error of a failed build.
            self._stderr = tempfile.TemporaryFile(prefix="kb-worker-")
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, self.handler], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"})
        return self._proc

    def _replace(self, proc: subprocess.Popen, reason: str) -> WorkerFailed:
        """Kill the worker, start a new one (it imports while the caller goes on); the failure to raise."""
        _end(proc, kill=True)
        printed = ""
        if self._stderr is not None:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - _ERROR_TAIL))
            printed = self._stderr.read().decode("utf-8", "replace").strip()
        self._proc = None
        self._ensure()
        return WorkerFailed(f"{reason} (exit status {proc.returncode})" + (f":\n{printed}" if printed else ""))


def _end(proc: subprocess.Popen, *, kill: bool = False) -> None:
    if proc.poll() is None:
        if kill:
            proc.kill()
        else:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()


# --- inside the worker ------------------------------------------------------------------------------

def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _leave_with_parent(parent: int) -> None:
    """Exit when the portal process that started the worker is gone (killed: no atexit, no closed stdin
    while a build runs)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """The build's own environment (SOURCE_DATE_EPOCH, the template cache), only while it runs."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def serve(handler: str) -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a stray print goes to stderr, not into a reply
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the server's to handle
    threading.Thread(target=_leave_with_parent, args=(os.getppid(),), daemon=True).start()
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    module, _, function = handler.partition(":")
    handle = getattr(importlib.import_module(module), function)
    running = threading.Event()

    def interrupt(signum, frame) -> None:  # only while a request runs: between requests it would end the loop
        if running.is_set():
            raise Interrupted()

    signal.signal(signal.SIGUSR1, interrupt)
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any]
        running.set()
        try:
            os.chdir(request["cwd"])
            reply = handle(request)
        except Interrupted:
            reply = {"interrupted": True}
        except Exception:
            reply = {"error": traceback.format_exc()[-_ERROR_TAIL:]}
        finally:
            running.clear()
        reply["peak_rss_kib"] = _peak_rss_kib()
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
