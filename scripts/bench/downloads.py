"""Fix-package benchmark: a 1 GiB file through the portal against Debian's nginx, from the same disk, in one run.

    .venv/bin/python scripts/bench/downloads.py                 # 1 GiB, 20 concurrent downloads
    .venv/bin/python scripts/bench/downloads.py --size-mib 256 --concurrency 8 --workers 2

What it does, all on loopback:

1. a fresh data home beside the checkout (``var/bench-downloads-*``, the same disk as the portal's data),
   ``portal init``, a customer organisation, a support user and a customer;
2. the portal in a uvicorn subprocess (``portal.app:create_app``, ``--workers`` processes, default 1);
3. upload of the file through ``POST /api/v1/packages`` (streamed from disk by the client): throughput and
   the server's peak RSS during the upload; then publish;
4. Debian's nginx (installed with apt-get when missing) serving the very blob file the portal stored;
5. ``--concurrency`` simultaneous downloads (curl, to /dev/null) of the file from each server, nginx first
   (it also warms the page cache for both), then the portal with the customer's bearer token: aggregate
   throughput, the ratio portal/nginx (target ≥ 0.5) and the portal's peak RSS (target < 200 MB).

Peak RSS is the highest sum of VmRSS over the server's processes, sampled every 50 ms, plus each process's
own VmHWM. Everything it created (data home, nginx files, the test file) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from portal import bootstrap  # noqa: E402
from portal.accounts import service as accounts  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.db import Database  # noqa: E402
from portal.policy import SystemActor  # noqa: E402
from portal.wiring import wire  # noqa: E402

wire()  # the hooks every portal process has: index updates, close guards, jobs, blob references

BENCH = SystemActor.operator("bench")  # the benchmark seeds its data as an operator would

MIB = 1024 * 1024
PASSWORD = "bench-password-123"
TARGET_RATIO, TARGET_RSS_MB = 0.5, 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def children(pid: int) -> list[int]:
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return out
    for kid in kids:
        out += children(int(kid))
    return out


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RssSampler:
    """Highest total VmRSS of a process tree while running, sampled every 50 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self._stop.is_set():
            total = sum(status_kb(p, "VmRSS") for p in children(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as f:
        for i in range(size // MIB):
            f.write(block[i % 251:] + block[:i % 251])  # no two MiB alike, cheap to make


def ensure_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("installing Debian's nginx (apt-get) …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"], check=True, env=env)
    # The package starts its own service on port 80; this benchmark runs its own instance only.
    subprocess.run(["service", "nginx", "stop"], check=False, capture_output=True)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(binary: str, workdir: Path, blob: Path, port: int) -> subprocess.Popen:
    conf = workdir / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"""{user}worker_processes auto;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /file {{ alias {blob}; default_type application/octet-stream; }}
    }}
}}
""")
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])
    wait_port(port)
    return proc


def parallel_downloads(url: str, count: int, headers: list[str]) -> tuple[float, int]:
    """(seconds, bytes) of ``count`` simultaneous curl downloads of ``url``."""
    cmd = ["curl", "-s", "-S", "-f", "-o", "/dev/null", "-w", "%{size_download}\n"]
    for h in headers:
        cmd += ["-H", h]
    started = time.perf_counter()
    procs = [subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, text=True) for _ in range(count)]
    total = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"a download from {url} failed (curl exit {p.returncode})")
        total += int(out.strip() or 0)
    return time.perf_counter() - started, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the portal")
    parser.add_argument("--keep", action="store_true", help="keep the data home (for looking around)")
    args = parser.parse_args()
    size = args.size_mib * MIB

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-downloads-", dir=ROOT / "var"))
    server = nginx = None
    try:
        home = work / "home"
        settings = Settings(home=home, run_jobs=False, secret_key="bench-secret-key", log_level="warning")
        bootstrap.initialise(settings, admin_password=PASSWORD)
        db = Database(settings)
        with db.session_scope() as s:
            accounts.create_organization(session=s, actor=BENCH, slug="romashka", name="ООО Ромашка")
            accounts.create_user(session=s, actor=BENCH, username="bench-support", role="support",
                                 password=PASSWORD)
            accounts.create_user(session=s, actor=BENCH, username="bench-customer", role="customer",
                                 password=PASSWORD, organization="romashka")
        db.dispose()
        source = work / "primoart-bench.tar.gz"
        print(f"making a {args.size_mib} MiB file in {work} …", flush=True)
        make_file(source, size)

        port = free_port()
        env = {**os.environ, "PORTAL_HOME": str(home), "PORTAL_RUN_JOBS": "false",
               "PORTAL_SECRET_KEY": "bench-secret-key", "PORTAL_MAX_UPLOAD_BYTES": str(size + 10 * MIB)}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.app:create_app", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                                   "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        marks = {}

        def mark(name: str) -> None:
            marks[name] = max(status_kb(p, "VmHWM") for p in children(server.pid)) / 1024

        with httpx.Client(base_url=base, timeout=600) as client:
            def token(username):
                r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
                r.raise_for_status()
                return r.json()["access_token"]

            support, customer = token("bench-support"), token("bench-customer")
            mark("started")

            def body():
                yield (b'--BENCH\r\nContent-Disposition: form-data; name="id"\r\n\r\nprimoart-bench-1\r\n'
                       b'--BENCH\r\nContent-Disposition: form-data; name="title"\r\n\r\nBench\r\n'
                       b'--BENCH\r\nContent-Disposition: form-data; name="version"\r\n\r\n1.0\r\n'
                       b'--BENCH\r\nContent-Disposition: form-data; name="organizations"\r\n\r\nromashka\r\n'
                       b'--BENCH\r\nContent-Disposition: form-data; name="file"; filename="primoart-bench.tar.gz"'
                       b'\r\nContent-Type: application/octet-stream\r\n\r\n')
                with source.open("rb") as f:
                    while chunk := f.read(MIB):
                        yield chunk
                yield b"\r\n--BENCH--\r\n"

            with RssSampler(server.pid) as upload_rss:
                started = time.perf_counter()
                r = client.post("/api/v1/packages", content=body(), headers={
                    "Authorization": f"Bearer {support}", "Content-Type": "multipart/form-data; boundary=BENCH"})
                upload_seconds = time.perf_counter() - started
            r.raise_for_status()
            mark("uploaded")
            sha256 = r.json()["files"][0]["sha256"]
            client.post("/api/v1/packages/primoart-bench-1/publish",
                        headers={"Authorization": f"Bearer {support}"}).raise_for_status()
            mark("published")
        blob = home / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256

        nginx_port = free_port()
        nginx = start_nginx(ensure_nginx(), work, blob, nginx_port)
        n_seconds, n_bytes = parallel_downloads(f"http://127.0.0.1:{nginx_port}/file", args.concurrency, [])
        # Once more: the first pass also brought the file into the page cache for both servers.
        n_seconds, n_bytes = parallel_downloads(f"http://127.0.0.1:{nginx_port}/file", args.concurrency, [])
        url = f"{base}/api/v1/packages/primoart-bench-1/files/primoart-bench.tar.gz"
        with RssSampler(server.pid) as download_rss:
            p_seconds, p_bytes = parallel_downloads(url, args.concurrency, [f"Authorization: Bearer {customer}"])
        mark("downloaded")
        hwm_mb = marks["downloaded"]

        expected = size * args.concurrency
        if n_bytes != expected or p_bytes != expected:
            raise RuntimeError(f"incomplete downloads: nginx {n_bytes}, portal {p_bytes}, expected {expected}")
        n_rate, p_rate = n_bytes / n_seconds / MIB, p_bytes / p_seconds / MIB
        ratio = p_rate / n_rate
        peak = max(upload_rss.peak_mb, download_rss.peak_mb, hwm_mb)
        print()
        print(f"file: {args.size_mib} MiB on {work} · portal: uvicorn, {args.workers} worker(s) · "
              f"nginx: worker_processes auto, sendfile · CPUs: {os.cpu_count()}")
        print(f"upload through the portal:       {size / upload_seconds / MIB:8.1f} MiB/s "
              f"({upload_seconds:.1f} s), server peak RSS {upload_rss.peak_mb:.1f} MB")
        print(f"{args.concurrency} concurrent downloads, nginx:  {n_rate:8.1f} MiB/s ({n_seconds:.1f} s)")
        print(f"{args.concurrency} concurrent downloads, portal: {p_rate:8.1f} MiB/s ({p_seconds:.1f} s), "
              f"server peak RSS {download_rss.peak_mb:.1f} MB (VmHWM {hwm_mb:.1f} MB)")
        print("server VmHWM after each phase: " + ", ".join(f"{k} {v:.1f} MB" for k, v in marks.items()))
        print(f"ratio portal/nginx: {ratio:.2f} (target ≥ {TARGET_RATIO}) — "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")
        print(f"server peak memory: {peak:.1f} MB (target < {TARGET_RSS_MB} MB) — "
              f"{'met' if peak < TARGET_RSS_MB else 'NOT met'}")
        return 0 if ratio >= TARGET_RATIO and peak < TARGET_RSS_MB else 1
    finally:
        for proc in (nginx, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is server else signal.SIGQUIT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
