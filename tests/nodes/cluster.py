"""Real portal nodes for the several-nodes tests and the downloads benchmark: ``python -m portal serve``
processes with their own data homes, a PostgreSQL database of their own on 127.0.0.1:5432, a bare git remote
and Debian's nginx in front (own configuration, prefix and free port). Every process is stopped by its own id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_SERVER = os.environ.get("PORTAL_TEST_POSTGRES") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECRET = "nodes-test-secret-shared-by-every-node"
NGINX = "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server (the nodes share it), dropped afterwards."""
    server = make_url(PG_SERVER)
    name = f"portal_nodes_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bare_remote(path: Path) -> str:
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    return str(path)


def portal_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "portal", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"portal {' '.join(args)} failed ({done.returncode}): {done.stdout[-2000:]}"
                           f"{done.stderr[-3000:]}")
    return done


class Node:
    """One ``portal serve`` process; ``env`` holds its PORTAL_* settings."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.env = env
        self.log_path = log_dir / f"node-{name}.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> Node:
        self.port = self.port or free_port()
        env = {**self.env, **extra_env}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "portal", "serve", "--port", str(self.port),
                                      "--proxy-headers"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node {self.name} did not start: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def token(self, username: str, password: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30)
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def wait_dead(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


NGINX_CONF = """\
{user}daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  types {{ application/octet-stream bin; }}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  client_max_body_size {max_body};

  upstream portal {{
{servers}
    keepalive 16;
  }}

  server {{
    listen 127.0.0.1:{port};

    location / {{
      proxy_pass http://portal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
      proxy_read_timeout 300s;
    }}
{extra}
  }}
}}
"""


# nginx passes only a few of the portal's headers on after an X-Accel-Redirect (Content-Type, -Disposition,
# Cache-Control …): the checksum, the signature and the portal's ETag are added back from the upstream's answer,
# and nginx's own ETag is off so that If-Range compares with the portal's.
ACCEL_LOCATION = """\
    location {prefix} {{
      internal;
      alias {blobs}/;
      etag off;
      add_header ETag $upstream_http_etag always;
      add_header X-Checksum-SHA256 $upstream_http_x_checksum_sha256 always;
      add_header X-Signature-Ed25519 $upstream_http_x_signature_ed25519 always;
      add_header X-Content-Type-Options nosniff always;
    }}
"""


def accel_location(prefix: str, blobs_dir: Path) -> str:
    """The ``internal`` location X-Accel-Redirect answers point into: the blob store's directory."""
    return ACCEL_LOCATION.format(prefix=prefix, blobs=blobs_dir)


def disk_location(prefix: str, folder: Path) -> str:
    """nginx serving files straight from disk (the benchmark's yardstick)."""
    return f"    location {prefix} {{\n      alias {folder}/;\n    }}\n"


class Nginx:
    def __init__(self, folder: Path, upstream_ports: list[int], *, extra: str = "", max_body: str = "5g"):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstream_ports)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the tests' private folders
        self.conf = folder / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(user=user, prefix=folder, servers=servers, port=self.port,
                                               extra=extra, max_body=max_body))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        if not Path(NGINX).exists():
            raise RuntimeError("nginx not found: scripts/test installs Debian's nginx")
        check = subprocess.run([NGINX, "-t", "-p", str(self.folder), "-c", str(self.conf)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx configuration refused: {check.stderr}")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.folder), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(self.folder / 'error.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the master stops its workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
