"""Real mail servers for the notification tests: aiosmtpd on loopback, and Debian's dovecot over IMAPS."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.tickets.helpers import catalogue

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """A controllable clock for schedulers and services."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # a Tuesday

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


class _Capture:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a fixed loopback port, stoppable and restartable (an outage)."""

    def __init__(self):
        self.port = free_port()
        self.capture = _Capture()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.capture, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return list(self.capture.messages)

    def to(self, address: str):
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def sending_through(settings, smtp):
    """The test's settings with the SMTP server and a recognisable public address."""
    return settings.model_copy(update={"smtp_url": smtp.url, "base_url": "https://support.example.test",
                                       "support_address": "support@primoart.example"})


@pytest.fixture
def mail_settings(settings, smtp):
    return sending_through(settings, smtp)


def open_database(settings):
    """A database handle whose sessions carry ``settings`` (the listener reads them there); closed after the test."""
    from portal.db import Database

    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def mail_db(mail_settings):
    yield from open_database(mail_settings)


@pytest.fixture
def with_catalogue(mail_db):
    catalogue(mail_db)


# --- dovecot ------------------------------------------------------------------------------------------

def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class ImapServer:
    """Dovecot with its own configuration in a temporary directory: one passwd-file user, Maildir, IMAPS."""

    user, password = "support", "mailbox-secret"

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="portal-dovecot-"))
        self.dir.chmod(0o755)  # dovecot's unprivileged processes read the passwd file and the mail home
        self.port = free_port()
        self.cert, self.key = _self_signed(self.dir)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"imaps://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def _config(self) -> Path:
        root = os.geteuid() == 0
        # As root, dovecot refuses to run its login and mail processes as root: use its own accounts.
        login_user = "dovenull" if root else pwd.getpwuid(os.geteuid()).pw_name
        internal_user = "dovecot" if root else login_user
        internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
        mail_uid = pwd.getpwnam("dovecot").pw_uid if root else os.geteuid()
        mail_gid = pwd.getpwnam("dovecot").pw_gid if root else os.getegid()
        home = self.dir / "mail"
        home.mkdir()
        if root:
            os.chown(home, mail_uid, mail_gid)
        (self.dir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}:{mail_uid}:{mail_gid}::{home}::\n")
        (self.dir / "state").mkdir()
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
protocols = imap
listen = 127.0.0.1
log_path = {self.dir}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {min(mail_uid, 1) if not root else mail_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
        return conf

    def start(self) -> None:
        conf = self._config()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "dovecot.log").read_text() if (self.dir / "dovecot.log").exists() else ""
                    out = self.process.stdout.read().decode() if self.process.poll() is not None else ""
                    raise RuntimeError(f"dovecot did not start: {out}\n{log}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self) -> imaplib.IMAP4_SSL:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=ctx, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def deliver(self, raw: bytes) -> None:
        """Put a message into the INBOX, as the mail server would (IMAP APPEND)."""
        imap = self.connect()
        try:
            status, detail = imap.append("INBOX", None, None, raw)
            assert status == "OK", detail
        finally:
            imap.logout()

    def flags(self) -> list[str]:
        imap = self.connect()
        try:
            imap.select("INBOX")
            status, data = imap.fetch("1:*", "(FLAGS)")
            return [d.decode() for d in data if d]
        finally:
            imap.logout()


@pytest.fixture(scope="session")
def imap_server():
    if not Path(DOVECOT).exists():
        pytest.fail(f"dovecot not found at {DOVECOT}: scripts/test installs Debian's dovecot-imapd package")
    server = ImapServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(imap_server):
    """The support mailbox, emptied for this test."""
    imap = imap_server.connect()
    try:
        imap.select("INBOX")
        imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    except imaplib.IMAP4.error:
        pass  # empty mailbox: "1:*" matches nothing
    finally:
        imap.logout()
    return imap_server
