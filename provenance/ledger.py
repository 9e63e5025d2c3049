"""The generation ledger: one row per delivered video, in SQLite by default.

It links the watermark payload, the file's hash, the policy decisions, the
model version and the time, so a payload or a hash found in the wild leads
back to the generation that made it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    payload TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    model_version TEXT NOT NULL,
    seed INTEGER,
    prompt TEXT,
    file_name TEXT,
    manifest_label TEXT,
    watermark_algorithm TEXT,
    decisions TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS generations_sha256 ON generations (sha256);
"""


@dataclass(frozen=True)
class GenerationRecord:
    payload: str
    sha256: str
    created_at: str  # ISO 8601, UTC
    model_version: str
    seed: int | None
    prompt: str | None
    file_name: str | None
    manifest_label: str | None
    watermark_algorithm: str
    decisions: dict = field(default_factory=dict)  # stage -> Decision as dict
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Ledger:
    """A thread-safe handle on the ledger database at ``path``."""

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

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, record: GenerationRecord) -> None:
        row = asdict(record)
        row["decisions"] = json.dumps(record.decisions, sort_keys=True)
        row["extra"] = json.dumps(record.extra, sort_keys=True)
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._lock, self._conn:
            self._conn.execute(f"INSERT INTO generations ({columns}) VALUES ({marks})", row)

    def by_payload(self, payload: str) -> GenerationRecord | None:
        return self._one("payload = ?", payload.lower())

    def by_sha256(self, sha256: str) -> GenerationRecord | None:
        return self._one("sha256 = ?", sha256.lower())

    def _one(self, where: str, value: str) -> GenerationRecord | None:
        with self._lock:
            cur = self._conn.execute(f"SELECT * FROM generations WHERE {where} ORDER BY created_at DESC LIMIT 1", (value,))
            names = [d[0] for d in cur.description]
            row = cur.fetchone()
        if row is None:
            return None
        data = dict(zip(names, row))
        data["decisions"] = json.loads(data["decisions"])
        data["extra"] = json.loads(data["extra"])
        return GenerationRecord(**data)

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
