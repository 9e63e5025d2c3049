"""The generation ledger: append-only records of every delivered video.

A record links the watermark payload, the file's SHA-256, the policy decisions,
the model version, the signed C2PA manifest (its JSON and the raw manifest
store) and the perceptual hashes of the delivered frames, so that a payload, a
hash, or a re-encoded look-alike found in the wild leads back to the
generation and its credentials (C2PA soft-binding resolution).

Storage is any SQLAlchemy URL: a SQLite file by default (WAL, writers take the
write lock up front with ``BEGIN IMMEDIATE`` so concurrent threads and
processes queue instead of failing), PostgreSQL for a shared deployment.
Append-only is enforced by the database itself (triggers refuse UPDATE and
DELETE), not just by the absence of methods here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import sqlalchemy as sa

from .errors import ProvenanceError
from .perceptual import DISTANCE_THRESHOLD, PerceptualMatch, VideoHash, band_keys, match, probe_keys


class LedgerError(ProvenanceError):
    """The ledger refused a write or cannot be opened."""


metadata = sa.MetaData()

generations = sa.Table(
    "generations", metadata,
    sa.Column("payload", sa.String(32), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("prompt", sa.Text),
    sa.Column("file_name", sa.Text),
    sa.Column("manifest_label", sa.Text),
    sa.Column("watermark_algorithm", sa.Text),
    sa.Column("decisions", sa.Text, nullable=False),
    sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
    sa.Column("manifest_json", sa.Text),
    sa.Column("manifest_store", sa.LargeBinary),
    sa.Column("perceptual", sa.Text),
)

# One row per (hash band, generation): the multi-index that finds every frame
# hash within 31 bits without scanning the table (see perceptual.probe_keys).
perceptual_bands = sa.Table(
    "perceptual_bands", metadata,
    sa.Column("band_key", sa.Integer, nullable=False, index=True),
    sa.Column("payload", sa.String(32), nullable=False),
    sa.UniqueConstraint("band_key", "payload"),
)

# Every policy decision the road made, refusals included: what a trust-and-safety
# team audits ("what did we block last week, and why?").  Generations point here
# by payload; a refused prompt has no payload and lives only here.
policy_decisions = sa.Table(
    "policy_decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.String(40), nullable=False, index=True),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False, index=True),
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("prompt_sha256", sa.String(64), index=True),
    sa.Column("payload", sa.String(32)),
    sa.Column("outcome", sa.String(32), nullable=False),  # delivered | blocked | held_for_review
    sa.Column("decision", sa.Text, nullable=False),  # the full Decision record, reasons included
)

_APPEND_ONLY_TABLES = ("generations", "perceptual_bands", "policy_decisions")
_SQLITE_APPEND_ONLY = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
    for t in _APPEND_ONLY_TABLES for op in ("UPDATE", "DELETE")
]
_PG_APPEND_ONLY = [
    "CREATE OR REPLACE FUNCTION skyseal_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$",
    *[
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{t}_append_only') THEN "
        f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION skyseal_append_only(); END IF; END $$"
        for t in _APPEND_ONLY_TABLES
    ],
]
_NEW_COLUMNS = {"manifest_json": "TEXT", "manifest_store": "BLOB", "perceptual": "TEXT"}


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
    manifest_json: str | None = None  # the signed manifest store as c2pa's Reader reports it
    manifest_store: bytes | None = None  # the raw JUMBF manifest store, to re-attach or re-validate
    perceptual: VideoHash | None = None  # PDQ hashes of the delivered frames

    def to_dict(self) -> dict:
        data = asdict(self)
        data["manifest_store"] = len(self.manifest_store) if self.manifest_store else None  # size, not bytes
        data["perceptual"] = self.perceptual.to_dict() if self.perceptual else None
        return data


@dataclass(frozen=True)
class DecisionEntry:
    """One policy decision as the ledger keeps it."""

    created_at: str
    stage: str  # "prompt" | "output"
    action: str  # "allow" | "review" | "block"
    policy_version: str
    prompt_sha256: str | None
    payload: str | None  # the generation it belongs to; None for refusals
    outcome: str  # what the road did: delivered | blocked | held_for_review
    decision: dict = field(default_factory=dict)
    id: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PerceptualHit:
    record: GenerationRecord
    match: PerceptualMatch


def _url(location: str | Path) -> str:
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text)}"


class Ledger:
    """A handle on the ledger at ``location``: a file path (SQLite) or an SQLAlchemy URL.

    Safe to share between threads; any number of processes may open the same
    SQLite file or PostgreSQL database and append concurrently.
    """

    def __init__(self, location: str | Path) -> None:
        self.url = _url(location)
        is_sqlite = self.url.startswith("sqlite")
        if is_sqlite and "///" in self.url and not self.url.endswith(":memory:"):
            Path(self.url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        self._writer = None
        try:
            if is_sqlite:
                self.engine = sa.create_engine(self.url, connect_args={"timeout": 60, "check_same_thread": False})
                sa.event.listen(self.engine, "connect", _sqlite_on_connect)
                sa.event.listen(self.engine, "begin", _sqlite_begin)
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True)
            self._writer = self.engine.execution_options(ledger_write=True)
            self._create_schema()
        except sa.exc.ArgumentError:
            raise LedgerError("the ledger location is not a file path or a valid SQLAlchemy URL") from None
        except sa.exc.SQLAlchemyError as exc:
            # The URL may hold a password: name the database without it.
            raise LedgerError(f"cannot open the ledger at {self.location}: {_first_line(exc)}") from None
        except ModuleNotFoundError as exc:
            raise LedgerError(f"the ledger URL needs the database driver {exc.name!r}; install it") from None

    @property
    def location(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def _create_schema(self) -> None:
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":  # processes opening a fresh database at once create it once
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72430190)")
            metadata.create_all(conn)
            existing = {c["name"] for c in sa.inspect(conn).get_columns("generations")}
            for name, kind in _NEW_COLUMNS.items():  # ledgers written before these columns existed
                if name not in existing:
                    kind = "BYTEA" if (kind == "BLOB" and conn.dialect.name == "postgresql") else kind
                    conn.exec_driver_sql(f"ALTER TABLE generations ADD COLUMN {name} {kind}")
            for statement in (_SQLITE_APPEND_ONLY if conn.dialect.name == "sqlite" else
                              _PG_APPEND_ONLY if conn.dialect.name == "postgresql" else []):
                conn.exec_driver_sql(statement)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):  # a Ledger travels to worker processes as its URL
        return {"url": self.url}

    def __setstate__(self, state) -> None:
        self.__init__(state["url"])

    # -- writing ---------------------------------------------------------------------------------------------

    def add(self, record: GenerationRecord) -> None:
        """Append ``record``; a payload already recorded is refused (records are never replaced)."""
        row = {f.name: getattr(record, f.name) for f in fields(record)}
        row["payload"], row["sha256"] = record.payload.lower(), record.sha256.lower()
        row["decisions"] = json.dumps(record.decisions, sort_keys=True)
        row["extra"] = json.dumps(record.extra, sort_keys=True)
        row["perceptual"] = json.dumps(record.perceptual.to_dict()) if record.perceptual else None
        bands = sorted({k for f in record.perceptual.informative().frames for k in band_keys(f.hash)}) if record.perceptual else []
        try:
            with self._writer.begin() as conn:
                conn.execute(generations.insert(), row)
                if bands:
                    conn.execute(perceptual_bands.insert(), [{"band_key": k, "payload": row["payload"]} for k in bands])
        except sa.exc.IntegrityError:
            raise LedgerError(f"the ledger already holds a generation with payload {record.payload}") from None

    def add_decisions(self, entries: list[DecisionEntry]) -> None:
        """Append policy decisions (all stages of one run in one transaction)."""
        rows = []
        for e in entries:
            row = {f.name: getattr(e, f.name) for f in fields(e) if f.name != "id"}
            row["decision"] = json.dumps(e.decision, sort_keys=True, default=str)
            rows.append(row)
        if rows:
            with self._writer.begin() as conn:
                conn.execute(policy_decisions.insert(), rows)

    # -- reading ---------------------------------------------------------------------------------------------

    def decisions(self, *, action: str | None = None, outcome: str | None = None, limit: int = 100) -> list[DecisionEntry]:
        """The most recent policy decisions first, optionally only one action or outcome."""
        query = sa.select(policy_decisions).order_by(policy_decisions.c.id.desc()).limit(limit)
        if action is not None:
            query = query.where(policy_decisions.c.action == action)
        if outcome is not None:
            query = query.where(policy_decisions.c.outcome == outcome)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [DecisionEntry(**{**row, "decision": json.loads(row["decision"])}) for row in rows]

    def by_payload(self, payload: str) -> GenerationRecord | None:
        return self._one(generations.c.payload == payload.lower())

    def by_sha256(self, sha256: str) -> GenerationRecord | None:
        return self._one(generations.c.sha256 == sha256.lower())

    def nearest_payload(self, raw_hex: str, *, max_bits: int = 4) -> tuple[GenerationRecord, int] | None:
        """The recorded generation whose payload is closest to ``raw_hex`` in bits, if within ``max_bits``.

        For a watermark whose presence is certain but whose payload came back
        with a few bit errors.  With N records the chance that a random 64-bit
        string lands within 4 bits of one is N * 679121 / 2**64 (4e-8 for a
        million records).  A linear scan: only used on that fallback path.
        """
        try:
            target = int(raw_hex, 16)
        except (TypeError, ValueError):
            return None
        best: tuple[str, int] | None = None
        with self.engine.connect() as conn:
            for (payload,) in conn.execute(sa.select(generations.c.payload)).yield_per(10_000):
                d = (int(payload, 16) ^ target).bit_count()
                if d <= max_bits and (best is None or d < best[1]):
                    best = (payload, d)
        if best is None:
            return None
        record = self.by_payload(best[0])
        return (record, best[1]) if record is not None else None

    def by_perceptual(self, query: VideoHash, *, threshold: int = DISTANCE_THRESHOLD, limit: int = 5) -> list[PerceptualHit]:
        """Generations whose frames lie within ``threshold`` bits of the query's, best match first."""
        keys = sorted({k for f in query.informative().frames for k in probe_keys(f.hash)})
        if not keys:
            return []
        candidates: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 900):  # stay under every driver's bound-parameter limit
                chunk = keys[start:start + 900]
                rows = conn.execute(sa.select(perceptual_bands.c.payload).where(perceptual_bands.c.band_key.in_(chunk)).distinct())
                candidates.update(r[0] for r in rows)
        hits = []
        for payload in candidates:
            record = self.by_payload(payload)
            if record is None or record.perceptual is None:
                continue
            m = match(query, record.perceptual, threshold=threshold)
            if m is not None:
                hits.append(PerceptualHit(record, m))
        hits.sort(key=lambda h: (-h.match.query_matched, h.match.distance))
        return hits[:limit]

    def _one(self, where) -> GenerationRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(generations).where(where).order_by(generations.c.created_at.desc()).limit(1)).mappings().first()
        if row is None:
            return None
        data = dict(row)
        data["decisions"] = json.loads(data["decisions"])
        data["extra"] = json.loads(data["extra"])
        data["perceptual"] = VideoHash.from_dict(json.loads(data["perceptual"])) if data["perceptual"] else None
        if data["manifest_store"] is not None:
            data["manifest_store"] = bytes(data["manifest_store"])
        return GenerationRecord(**data)

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(generations)).scalar_one())


def _sqlite_begin(conn) -> None:
    # Writers take the write lock up front, so two writers queue on busy_timeout instead of one
    # failing when its read snapshot cannot be upgraded; readers keep WAL's non-blocking reads.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's implicit deferred BEGIN.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# -- the manifest to keep with a record ------------------------------------------------------------------------

# The BMFF 'uuid' box that carries a C2PA manifest store (C2PA spec, "Embedding manifests into BMFF").
C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


def extract_manifest_store(path: str | Path) -> bytes | None:
    """The raw JUMBF manifest store embedded in an MP4/MOV file, or None when there is none."""
    with open(path, "rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return None
            size, kind = int.from_bytes(header[:4], "big"), header[4:]
            head = 8
            if size == 1:
                size, head = int.from_bytes(fh.read(8), "big"), 16
            elif size == 0:  # box runs to the end of the file
                size = Path(path).stat().st_size - fh.tell() + head
            if size < head:
                return None
            if kind == b"uuid":
                body = fh.read(size - head)
                if body[:16] == C2PA_BMFF_UUID:
                    rest = body[16 + 4:]  # after the user type and the FullBox version/flags
                    purpose, _, rest = rest.partition(b"\0")
                    if purpose == b"manifest":
                        return rest[8:]  # skip the 64-bit offset to the optional Merkle box
                continue
            fh.seek(size - head, 1)


def read_manifest(path: str | Path) -> tuple[str | None, bytes | None]:
    """(manifest store JSON, raw manifest store bytes) of a signed file, for the ledger record."""
    import c2pa

    try:
        with c2pa.Reader(str(path)) as reader:
            manifest_json = reader.json()
    except c2pa.C2paError:
        manifest_json = None
    try:
        store = extract_manifest_store(path)
    except OSError:
        store = None
    return manifest_json, store


__all__ = ["DecisionEntry", "GenerationRecord", "Ledger", "LedgerError", "PerceptualHit", "extract_manifest_store", "read_manifest"]
