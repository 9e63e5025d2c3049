"""API keys: created once, shown once, stored only as a hash, with scopes and a rate limit.

A key reads ``sks_<id>_<secret>``.  The id finds the row; the secret is 256
random bits, so a plain SHA-256 of the whole key is as hard to reverse as the
key is to guess, and a slow password hash would only slow every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .models import KeyInfo, Scope

SCOPES: tuple[Scope, ...] = ("generate", "detect", "audit", "admin")
_KEY_RE = re.compile(r"^sks_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    rate_per_minute INTEGER,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


class KeyStoreError(ValueError):
    """A key request that cannot be honoured (unknown scope, unknown id); the message is safe to show."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]
    rate_per_minute: int | None
    created_at: str
    revoked_at: str | None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def info(self) -> KeyInfo:
        return KeyInfo(id=self.id, name=self.name, scopes=sorted(self.scopes), rate_per_minute=self.rate_per_minute,
                       created_at=self.created_at, revoked_at=self.revoked_at)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class KeyStore:
    """The key table in the service database; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "KeyStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create(self, name: str, scopes: list[str], rate_per_minute: int | None = None) -> tuple[str, ApiKey]:
        """Return the new key (the only time it exists in clear) and its stored record."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise KeyStoreError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
        if rate_per_minute is not None and rate_per_minute < 1:
            raise KeyStoreError("rate_per_minute must be at least 1")
        key_id = secrets.token_hex(6)
        key = f"sks_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name, frozenset(scopes), rate_per_minute, _now(), None)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO api_keys (id, name, key_hash, scopes, rate_per_minute, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, name, _hash(key), ",".join(sorted(scopes)), rate_per_minute, record.created_at),
            )
        return key, record

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The live key that ``presented`` is, or None (malformed, unknown, wrong secret, revoked)."""
        if not presented:
            return None
        m = _KEY_RE.match(presented.strip())
        if m is None:
            return None
        row = self._row(m.group(1))
        if row is None:
            # Hash anyway so an unknown id costs what a wrong secret costs.
            hmac.compare_digest(_hash(presented), "0" * 64)
            return None
        key_hash, record = row
        if not hmac.compare_digest(_hash(presented.strip()), key_hash) or record.revoked_at:
            return None
        return record

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock, self._conn:
            cur = self._conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id))
        row = self._row(key_id)
        if row is None:
            raise KeyStoreError(f"no API key with id {key_id!r}")
        if cur.rowcount == 0 and row[1].revoked_at is None:
            raise KeyStoreError(f"could not revoke {key_id!r}")
        return row[1]

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, name, scopes, rate_per_minute, created_at, revoked_at, key_hash FROM api_keys ORDER BY created_at, id"
            ).fetchall()
        return [self._record(r) for r in rows]

    def _row(self, key_id: str) -> tuple[str, ApiKey] | None:
        with self._lock:
            r = self._conn.execute(
                "SELECT id, name, scopes, rate_per_minute, created_at, revoked_at, key_hash FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        return None if r is None else (r[6], self._record(r))

    @staticmethod
    def _record(r) -> ApiKey:
        return ApiKey(r[0], r[1], frozenset(s for s in r[2].split(",") if s), r[3], r[4], r[5])
