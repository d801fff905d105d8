"""Basic auth for the metrics endpoint: ``Authorization: Basic`` checked against
the bcrypt hashes of a web config's ``basic_auth_users`` (``web_config``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable

import bcrypt

# failed basic-auth checks (bcrypt, tens of ms of CPU each) allowed per second, and
# as a burst: beyond, requests get 429 without any bcrypt work
AUTH_FAILURES_PER_S = 5.0
AUTH_FAILURE_BURST = 10
BCRYPT_MAX_PASSWORD = 72  # bytes bcrypt uses; htpasswd and Go's bcrypt ignore the rest


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes.

    bcrypt is slow on purpose (tens of ms at cost 10); a successful check is
    remembered by a keyed digest of the credentials so that a scrape every few
    seconds does not pay it each time. Unknown users cost a bcrypt check too,
    so timing does not tell which users exist.

    Wrong credentials must not buy unbounded CPU: bcrypt runs one check at a
    time (as exporter-toolkit's bcryptMtx), and failed checks draw on a bucket
    of ``burst`` tokens refilled at ``failures_per_s``; when it is empty a
    request that would need bcrypt is answered 429 at once. A successful check
    costs no token, and cached credentials skip bcrypt entirely, so Prometheus
    keeps scraping through a flood of wrong passwords once it got in.

    Passwords are cut at 72 bytes, as bcrypt itself, htpasswd and Go's bcrypt
    (exporter-toolkit) do; Python's bcrypt 5 refuses longer ones instead.
    """

    def __init__(self, users: dict[str, bytes], cache_max: int = 256,
                 failures_per_s: float = AUTH_FAILURES_PER_S,
                 burst: int = AUTH_FAILURE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.users = users
        cost = min((int(h[4:6]) for h in users.values()), default=10)
        self._dummy = bcrypt.hashpw(b"cdig-no-such-user", bcrypt.gensalt(rounds=max(4, cost)))
        self._key = os.urandom(32)
        self._ok: dict[bytes, None] = {}
        self._cache_max = cache_max
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self._rate = failures_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._t = clock()
        self.throttled = 0  # requests answered 429
        self.bcrypt_checks = 0

    def _take_token(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._t) * self._rate)
            self._t = now
            if self._tokens < 1.0:
                self.throttled += 1
                return False
            self._tokens -= 1.0
            return True

    def _refund(self) -> None:
        with self._lock:
            self._tokens = min(self._burst, self._tokens + 1.0)

    def check(self, header: str | None) -> bool:
        return self.verify(header) == 200

    def verify(self, header: str | None) -> int:
        """200 (let in), 401 (wrong or no credentials) or 429 (too many failures now)."""
        if not header or not header.startswith("Basic "):
            return 401
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return 401
        user, sep, password = raw.partition(":")
        if not sep:
            return 401
        digest = hmac.new(self._key, raw.encode(), hashlib.sha256).digest()
        with self._lock:
            if digest in self._ok:
                return 200
        if not self._take_token():
            return 429
        h = self.users.get(user)
        try:
            with self._bcrypt_lock:
                self.bcrypt_checks += 1
                ok = bcrypt.checkpw(password.encode()[:BCRYPT_MAX_PASSWORD],
                                    h if h is not None else self._dummy)
        except ValueError:
            ok = False
        ok = ok and h is not None
        if ok:
            self._refund()
            with self._lock:
                if len(self._ok) >= self._cache_max:
                    self._ok.clear()
                self._ok[digest] = None
        return 200 if ok else 401
