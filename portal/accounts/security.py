"""Password hashing (Argon2 through argon2-cffi) and random tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's Password Storage Cheat Sheet configuration for Argon2id (19 MiB, 2 iterations, 1 lane). argon2-cffi's
# default (RFC 9106's 64 MiB, 3 iterations, 4 lanes) costs ~6× the CPU per login: on two cores that capped
# logins at 8–9 a second and put p95 at 5.8 s with 50 clients (scripts/bench/concurrency.py). Hashes made with
# the old parameters are replaced on the next successful login (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Verifying against this keeps the time of a login for an unknown user close to a real one.
_DUMMY_HASH = _hasher.hash("not-a-password-" + secrets.token_hex(8))

MIN_PASSWORD_LENGTH = 8

# Each Argon2 computation takes 19 MiB and a core's worth of CPU: a burst of 200 logins on 40 worker threads
# would otherwise hold 0.75 GiB at once and starve every other request of CPU, finishing no sooner.
_HASHING = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def hash_password(password: str) -> str:
    with _HASHING:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        with _HASHING:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def csrf_token_for(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(secret, nonce), submitted)
