"""The generation ledger: append-only, concurrent writers, perceptual lookup, manifest re-linking.

Every contract test runs on SQLite and on a real PostgreSQL server that the
tests start themselves (initdb + pg_ctl in a temp dir on a loopback port).
"""

import glob
import json
import multiprocessing as mp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from provenance import GenerationRecord, Ledger, PemSigner, build_manifest, ensure_dev_ca, make_payload, sign_file
from provenance.ledger import LedgerError, extract_manifest_store, read_manifest
from provenance.perceptual import hash_frames, is_same_video
from skyseal.media import encode_mp4, read_media



# -- a throwaway PostgreSQL server -------------------------------------------------------------------------------

def find_pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(candidate) / "initdb", os.X_OK):
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """initdb + pg_ctl start; as root the server runs as an unprivileged user (PostgreSQL refuses root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="skyseal-pg-"))
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.url = f"postgresql+psycopg://skyseal@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120, cwd=self.dir)

    def start(self) -> "PgServer":
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "skyseal", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- the ledger contract, on SQLite and on a real PostgreSQL server ----------------------------------------------

@pytest.fixture(scope="module")
def pg_url():
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed; .ci/run installs the postgresql package")
    server = PgServer(bin_dir).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url = request.getfixturevalue("pg_url")
    # A fresh schema per test: a database per test keeps tests independent on one server.
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def _record(i: int, **kw) -> GenerationRecord:
    base = dict(payload=make_payload(i), sha256=f"{i:064x}", created_at=f"2026-01-01T00:00:{i % 60:02d}+00:00",
                model_version="m1", seed=i, prompt=f"prompt {i}", file_name=f"{i}.mp4", manifest_label=f"urn:c2pa:{i}",
                watermark_algorithm="test", decisions={"prompt": {"action": "allow"}}, extra={"status": "delivered"})
    base.update(kw)
    return GenerationRecord(**base)


def _clip(prompt: str, seed: int) -> np.ndarray:
    from generator import ProceduralGenerator

    return ProceduralGenerator(size=256)(prompt, seed=seed, num_frames=16).frames


def test_round_trip_with_manifest_and_hashes(ledger_url):
    frames = _clip("a big green ball bouncing in a forest", 1)
    vh = hash_frames(frames, fps=8)
    rec = _record(1, manifest_json='{"active_manifest": "urn:c2pa:1"}', manifest_store=b"\x00jumb\xffstore", perceptual=vh)
    with Ledger(ledger_url) as ledger:
        ledger.add(rec)
        assert ledger.by_payload(rec.payload) == rec
        assert ledger.by_sha256(rec.sha256.upper()) == rec
        assert ledger.by_payload(make_payload(2)) is None and len(ledger) == 1
    with Ledger(ledger_url) as reopened:  # persisted, and the schema is created only once
        assert reopened.by_payload(rec.payload).perceptual == vh


def test_ledger_is_append_only(ledger_url):
    import sqlalchemy as sa

    with Ledger(ledger_url) as ledger:
        rec = _record(3)
        ledger.add(rec)
        with pytest.raises(LedgerError, match="already holds"):
            ledger.add(_record(3, prompt="a different prompt"))
        for statement in ("UPDATE generations SET prompt = 'rewritten'", "DELETE FROM generations"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), ledger.engine.begin() as conn:
                conn.exec_driver_sql(statement)
        assert ledger.by_payload(rec.payload) == rec and len(ledger) == 1


def test_concurrent_writers_threads(ledger_url):
    with Ledger(ledger_url) as ledger:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: ledger.add(_record(i)), range(100, 180)))
        assert len(ledger) == 80
        assert all(ledger.by_payload(make_payload(i)) is not None for i in range(100, 180))


def _write_many(url: str, start: int, count: int) -> None:
    with Ledger(url) as ledger:
        for i in range(start, start + count):
            ledger.add(_record(i))


def test_concurrent_writers_processes(ledger_url):
    Ledger(ledger_url).close()  # schema first, then four processes append at once
    ctx = mp.get_context("fork")  # fresh engines in each child: the parent disposed its own
    procs = [ctx.Process(target=_write_many, args=(ledger_url, 1000 + 25 * k, 25)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Ledger(ledger_url) as ledger:
        assert len(ledger) == 100
        assert {ledger.by_payload(make_payload(i)).seed for i in range(1000, 1100)} == set(range(1000, 1100))


def test_perceptual_lookup_finds_reencoded_resized_and_trimmed_copies(ledger_url, tmp_path):
    ours = _clip("a red triangle sliding left at night", 4)  # moves one way: the matched segment is unambiguous
    other = _clip("a small blue ring rising at dusk", 9)
    with Ledger(ledger_url) as ledger:
        ledger.add(_record(7, perceptual=hash_frames(ours, fps=8)))
        ledger.add(_record(8, perceptual=hash_frames(other, fps=8)))
        encode_mp4(ours[8:], tmp_path / "second_half.mp4", crf=28)  # trimmed and re-encoded
        copy = read_media(tmp_path / "second_half.mp4").frames
        hits = ledger.by_perceptual(hash_frames(copy, fps=8))
        assert hits and hits[0].record.payload == make_payload(7)
        m = hits[0].match
        assert m.query_matched >= 0.9 and m.distance <= 31
        assert m.reference_segment[0] >= 0.9 and m.reference_segment[1] == pytest.approx(15 / 8)  # frames 8..15
        assert 0.3 <= m.reference_matched <= 0.7

        half = cv2.resize(ours[0], (128, 128), interpolation=cv2.INTER_AREA)
        still = ledger.by_perceptual(hash_frames(half[None], fps=1))
        assert still and still[0].record.payload == make_payload(7)

        stranger = _clip("a yellow star spinning over the sea", 2)
        assert not [h for h in ledger.by_perceptual(hash_frames(stranger, fps=8)) if is_same_video(h.match)]


def test_manifest_store_relinks_a_stripped_copy(tmp_path):
    ca = ensure_dev_ca(tmp_path / "ca")
    frames = _clip("a red triangle sliding left at night", 3)
    encode_mp4(frames, tmp_path / "plain.mp4")
    manifest = build_manifest(title="t.mp4", claim_generator="skyseal-test", version="0", watermark_payload=make_payload(5),
                              watermark_algorithm="test")
    sign_file(tmp_path / "plain.mp4", tmp_path / "signed.mp4", manifest, PemSigner(ca.signer_chain, ca.signer_key))
    manifest_json, store = read_manifest(tmp_path / "signed.mp4")
    assert store and store[4:8] == b"jumb"  # a JUMBF superbox
    assert json.loads(manifest_json)["active_manifest"]
    assert read_manifest(tmp_path / "plain.mp4") == (None, None)

    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.add(_record(5, manifest_json=manifest_json, manifest_store=store, perceptual=hash_frames(frames, fps=8)))
        # Strip the credentials: decode and re-encode, as any upload pipeline would.
        encode_mp4(read_media(tmp_path / "signed.mp4").frames, tmp_path / "stripped.mp4", crf=26)
        assert extract_manifest_store(tmp_path / "stripped.mp4") is None
        hit = ledger.by_perceptual(hash_frames(read_media(tmp_path / "stripped.mp4").frames, fps=8))[0]
    # The stored store is the signed one: c2pa reads it back beside the stripped copy, and the hard
    # binding says (correctly) that these are no longer the signed bytes.
    import c2pa

    with open(tmp_path / "stripped.mp4", "rb") as fh, c2pa.Reader("video/mp4", fh, hit.record.manifest_store) as reader:
        relinked = json.loads(reader.json())
    assert relinked["active_manifest"] == json.loads(manifest_json)["active_manifest"]
    assert reader_state_mentions_hash_mismatch(relinked)


def reader_state_mentions_hash_mismatch(report: dict) -> bool:
    codes = json.dumps(report.get("validation_results") or report.get("validation_status") or {})
    return "mismatch" in codes


def test_bad_ledger_url_is_one_clear_error_without_password(tmp_path):
    with pytest.raises(LedgerError) as info:
        Ledger("postgresql+psycopg://user:s3cret-pass@127.0.0.1:1/none")
    assert "s3cret-pass" not in str(info.value) and "cannot open the ledger" in str(info.value)


def test_nearest_payload_tolerates_a_few_bit_errors(ledger_url):
    with Ledger(ledger_url) as ledger:
        for i in (11, 12, 13):
            ledger.add(_record(i))
        target = int(make_payload(12), 16)
        three_off = f"{target ^ 0b1000_0000_0100_0000_0001:016x}"
        record, bits = ledger.nearest_payload(three_off)
        assert record.payload == make_payload(12) and bits == 3
        assert ledger.nearest_payload(f"{target ^ 0b11_1111:016x}") is None  # six bits: not claimed
        assert ledger.nearest_payload("not hex") is None


def test_a_ledger_written_before_the_new_columns_still_opens(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.sqlite")
    old.executescript("""
        CREATE TABLE generations (payload TEXT PRIMARY KEY, sha256 TEXT NOT NULL, created_at TEXT NOT NULL,
            model_version TEXT NOT NULL, seed INTEGER, prompt TEXT, file_name TEXT, manifest_label TEXT,
            watermark_algorithm TEXT, decisions TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}');""")
    old.execute("INSERT INTO generations VALUES (?, ?, '2025-01-01', 'm0', 1, 'p', 'f.mp4', NULL, 'a', '{}', '{}')",
                (make_payload(1), "cd" * 32))
    old.commit()
    old.close()
    with Ledger(tmp_path / "old.sqlite") as ledger:
        assert ledger.by_payload(make_payload(1)).perceptual is None
        ledger.add(_record(2, manifest_store=b"x"))
        assert len(ledger) == 2 and ledger.by_payload(make_payload(2)).manifest_store == b"x"
