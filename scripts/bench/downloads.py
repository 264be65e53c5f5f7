"""Fix-package benchmark: upload and download throughput of the portal against Debian's nginx serving the same
file from disk, in one run, on the local store and on an S3-compatible store.

    .venv/bin/python scripts/bench/downloads.py                            # local store, 1 GiB, 20 downloads
    .venv/bin/python scripts/bench/downloads.py --store s3 --size-mib 256 --concurrency 8
    .venv/bin/python scripts/bench/downloads.py --size-mib 256 --concurrency 8 --workers 2

What it does, all on loopback:

1. a fresh data home beside the checkout (``var/bench-downloads-*``, the same disk as the portal's data),
   ``portal init``, a customer organisation, a support user and a customer; with ``--store s3`` a SeaweedFS
   server (``weed`` from the test extra, ``tests/s3server.py``) with its data in the same folder;
2. the portal in a uvicorn subprocess (``portal.app:create_app``, ``--workers`` processes, default 1) with the
   protocol `portal serve` runs (``portal.serving``: a local blob goes out with sendfile, an S3 one streamed);
3. upload of the file through ``POST /api/v1/packages`` (streamed from disk by the client; with S3 into a
   multipart upload): throughput and the server's peak RSS during the upload; then publish;
4. Debian's nginx (installed with apt-get when missing) serving the same bytes from disk (the yardstick),
   and, for the local store, in front of a second portal process with ``PORTAL_ACCEL_REDIRECT`` (the portal
   authorises and logs, nginx sends the blob with ``X-Accel-Redirect``);
5. ``--concurrency`` simultaneous downloads (curl, to /dev/null) from each, after a first pass that warms the
   page cache: aggregate throughput and ratios. ``--rounds`` rounds (default 3: the machine may be shared),
   each downloading from every server in turn; a figure is a server's best round, and beside it the median of
   its rounds' ratios to nginx's round next to it. Targets: through the portal ≥ 0.8× nginx, with
   X-Accel-Redirect ≥ 0.9× nginx, the portal's peak RSS < 200 MB. With S3 it also measures what a presigned
   redirect would give (curl straight from the store with a presigned URL) — the alternative not taken.

Peak RSS is the highest sum of VmRSS over the server's processes, sampled every 50 ms, plus each process's
own VmHWM; the processes are listed with theirs (the server, the two render workers of portal/rendering.py,
multiprocessing's resource tracker). Everything it created (data home, nginx files, the store's data, the test
file) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from _serving import free_port, wait_port  # noqa: E402  (scripts/bench/ is this script's folder)

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
TARGET_PORTAL, TARGET_ACCEL, TARGET_RSS_MB = 0.8, 0.9, 200
ACCEL_PREFIX = "/_protected/"


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


def role(pid: int) -> str:
    """What a process of the server's tree is: the server, a render worker (rendering.py's pool, started
    with the server) or multiprocessing's resource tracker."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    if "spawn_main" in command:
        return "render worker"
    return "server"


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


def start_nginx(binary: str, workdir: Path, blob: Path, port: int, *, accel_upstream: int | None = None,
                blobs_root: Path | None = None) -> subprocess.Popen:
    """nginx serving ``blob`` at /file; with ``accel_upstream``, also the portal there with the internal
    location its X-Accel-Redirect answers point into (the configuration of docs/deployment.md)."""
    conf = workdir / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    proxy = ""
    if accel_upstream is not None:
        proxy = f"""
        location / {{
            proxy_pass http://127.0.0.1:{accel_upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
        }}
        location {ACCEL_PREFIX} {{
            internal;
            alias {blobs_root}/;
            etag off;
            add_header ETag $upstream_http_etag always;
            add_header X-Checksum-SHA256 $upstream_http_x_checksum_sha256 always;
        }}"""
    conf.write_text(f"""{user}worker_processes auto;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_max_body_size 0;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /file {{ alias {blob}; default_type application/octet-stream; }}{proxy}
    }}
}}
""")
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])
    wait_port(port)
    return proc


def start_portal(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                               "--log-level", "warning", "--no-access-log",
                               "--http", "portal.serving:ZeroCopyH11Protocol"],  # as `portal serve` runs it
                              cwd=ROOT, env=env)
    wait_port(port)
    return server, port


ROUNDS = 3  # the machine is shared: each figure is the best of this many rounds (--rounds), the same for all
ROUND_RATES: dict[str, list[float]] = {}  # per URL: MiB/s of every round, in the order they ran


def interleaved_rounds(targets: dict[str, tuple[str, list[str]]], count: int) -> dict[str, tuple[float, int]]:
    """The fastest of ``ROUNDS`` rounds of ``count`` simultaneous downloads per target: (seconds, bytes).

    Each round downloads from every target in turn, so that a target's round and nginx's ran seconds apart,
    under the same load: on the shared machine nginx's own rounds spread 1.3–2.8 GiB/s in one run, and
    rounds taken one server after the other compared one server's quiet minute with another's busy one."""
    rounds: dict[str, list[tuple[float, int]]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (url, headers) in targets.items():
            rounds[name].append(parallel_downloads(url, count, headers))
    for name, (url, _) in targets.items():
        ROUND_RATES[url] = [got / seconds / MIB for seconds, got in rounds[name]]
    return {name: min(runs, key=lambda r: r[0] / max(r[1], 1)) for name, runs in rounds.items()}


def paired_ratio(url: str, yardstick: str) -> float:
    """The median over the rounds of (this server's MiB/s / nginx's in the same round)."""
    return median([mine / theirs for mine, theirs in zip(ROUND_RATES[url], ROUND_RATES[yardstick], strict=True)])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def parallel_downloads(url: str, count: int, headers: list[str]) -> tuple[float, int]:
    """(seconds, bytes) of ``count`` simultaneous curl downloads of ``url``."""
    cmd = ["curl", "-s", "-S", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_starttransfer}\n"]
    for h in headers:
        cmd += ["-H", h]
    started = time.perf_counter()
    procs = [subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, text=True) for _ in range(count)]
    total, first_bytes = 0, []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"a download from {url} failed (curl exit {p.returncode})")
        size, ttfb = (out.split() + ["0", "0"])[:2]
        total += int(size)
        first_bytes.append(float(ttfb))
    FIRST_BYTE[url] = min(FIRST_BYTE.get(url, 1e9), max(first_bytes))
    return time.perf_counter() - started, total


FIRST_BYTE: dict[str, float] = {}  # per URL: the slowest first byte of a round (its best round)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the portal")
    parser.add_argument("--store", choices=("file", "s3"), default="file",
                        help="the blob store: the data home's disk, or SeaweedFS's S3 on loopback")
    parser.add_argument("--keep", action="store_true", help="keep the data home (for looking around)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help="timed rounds per server (each figure is the best; the median ratio shows the spread)")
    args = parser.parse_args()
    globals()["ROUNDS"] = max(1, args.rounds)
    size = args.size_mib * MIB

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-downloads-", dir=ROOT / "var"))
    server = nginx = accel_server = s3 = None
    try:
        home = work / "home"
        store_env: dict[str, str] = {}
        if args.store == "s3":
            sys.path.insert(0, str(ROOT))
            from tests import s3server

            s3 = s3server.start(work / "seaweedfs")
            s3.client().create_bucket(Bucket="bench")
            store_env = {**s3server.env(s3), "PORTAL_BLOB_STORE": "s3://bench/portal"}
            os.environ.update(store_env)  # the seeding below uses the same store
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

        env = {**os.environ, **store_env, "PORTAL_HOME": str(home), "PORTAL_RUN_JOBS": "false",
               "PORTAL_SECRET_KEY": "bench-secret-key", "PORTAL_MAX_UPLOAD_BYTES": str(size + 10 * MIB)}
        server, port = start_portal(env, args.workers)
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
        if args.store == "s3":
            blob = source  # nginx's yardstick: the same bytes from disk
        nginx_port = free_port()
        accel_port = None
        if args.store == "file":
            accel_server, accel_port = start_portal({**env, "PORTAL_ACCEL_REDIRECT": ACCEL_PREFIX}, args.workers)
        nginx = start_nginx(ensure_nginx(), work, blob, nginx_port, accel_upstream=accel_port,
                            blobs_root=home / "blobs")
        # A first pass brings the file into the page cache for every server.
        parallel_downloads(f"http://127.0.0.1:{nginx_port}/file", args.concurrency, [])
        path = "/api/v1/packages/primoart-bench-1/files/primoart-bench.tar.gz"
        bearer = [f"Authorization: Bearer {customer}"]
        targets = {"nginx": (f"http://127.0.0.1:{nginx_port}/file", []), "portal": (base + path, bearer)}
        if accel_port is not None:
            targets["accel"] = (f"http://127.0.0.1:{nginx_port}{path}", bearer)
        if s3 is not None:
            presigned = s3.client().generate_presigned_url(
                "get_object", Params={"Bucket": "bench", "Key": f"portal/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"},
                ExpiresIn=3600)
            targets["presigned"] = (presigned, [])
        with RssSampler(server.pid) as download_rss:
            results = interleaved_rounds(targets, args.concurrency)
        mark("downloaded")
        tree = [(pid, status_kb(pid, "VmHWM") / 1024, role(pid)) for pid in children(server.pid)]
        hwm_mb = marks["downloaded"]
        expected = size * args.concurrency
        urls = {name: url for name, (url, _) in targets.items()}
        for name, (_, got) in results.items():
            if got != expected:
                raise RuntimeError(f"incomplete downloads from {name}: {got} bytes, expected {expected}")
        rate = {name: got / seconds / MIB for name, (seconds, got) in results.items()}
        peak = max(upload_rss.peak_mb, download_rss.peak_mb, hwm_mb)
        ok = rate["portal"] / rate["nginx"] >= TARGET_PORTAL and peak < TARGET_RSS_MB
        print()
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"file: {args.size_mib} MiB · store: {args.store} ({work}) · portal: uvicorn, {args.workers} "
              f"worker(s) · nginx: worker_processes auto, sendfile · CPUs: {os.cpu_count()} · rounds: {ROUNDS} "
              f"· load average at the end (1/5/15 min): {load}")
        print(f"upload through the portal into the {args.store} store: {size / upload_seconds / MIB:8.1f} MiB/s "
              f"({upload_seconds:.1f} s), server peak RSS {upload_rss.peak_mb:.1f} MB")
        portal_way = "sendfile" if args.store == "file" else "streamed"  # portal/blob_responses.py
        labels = {"nginx": "nginx from disk (yardstick)", "portal": f"through the portal ({portal_way})",
                  "accel": "portal + nginx X-Accel-Redirect", "presigned": "S3 directly (presigned URL)"}
        for name, value in rate.items():
            seconds = results[name][0]
            print(f"{args.concurrency} concurrent downloads, {labels[name]:32} {value:8.1f} MiB/s ({seconds:.1f} s)"
                  + ("" if name == "nginx" else f"  ratio {value / rate['nginx']:.2f}")
                  + f"  first byte ≤ {FIRST_BYTE[urls[name]] * 1000:.0f} ms"
                  + f"  rounds {min(ROUND_RATES[urls[name]]):.0f}–{max(ROUND_RATES[urls[name]]):.0f}"
                  + ("" if name == "nginx" else
                     f", median ratio {median(ROUND_RATES[urls[name]]) / median(ROUND_RATES[urls['nginx']]):.2f}"
                     f", median of the rounds' ratios {paired_ratio(urls[name], urls['nginx']):.2f}"))
        print(f"portal server peak RSS {download_rss.peak_mb:.1f} MB (VmHWM {hwm_mb:.1f} MB); VmHWM after each "
              "phase: " + ", ".join(f"{k} {v:.1f} MB" for k, v in marks.items()))
        print("the server's processes (VmHWM): " + ", ".join(f"{who} {mb:.1f} MB" for _, mb, who in tree))
        print(f"through the portal / nginx: {rate['portal'] / rate['nginx']:.2f} (target ≥ {TARGET_PORTAL}) — "
              f"{'met' if rate['portal'] / rate['nginx'] >= TARGET_PORTAL else 'NOT met'}")
        if "accel" in rate:
            accel_ok = rate["accel"] / rate["nginx"] >= TARGET_ACCEL
            ok = ok and accel_ok
            print(f"X-Accel-Redirect / nginx: {rate['accel'] / rate['nginx']:.2f} (target ≥ {TARGET_ACCEL}) — "
                  f"{'met' if accel_ok else 'NOT met'}")
        print(f"server peak memory: {peak:.1f} MB (target < {TARGET_RSS_MB} MB) — "
              f"{'met' if peak < TARGET_RSS_MB else 'NOT met'}")
        return 0 if ok else 1
    finally:
        for proc in (nginx, server, accel_server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if proc is nginx else signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if s3 is not None:
            s3.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
