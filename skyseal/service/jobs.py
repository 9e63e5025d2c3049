"""Generate jobs: a durable queue in SQLite worked by a bounded pool of threads.

The table *is* the queue, so a job accepted with 202 survives a restart: a
finished job keeps its result and video, and a job that was queued or running
when the process stopped is queued again on the next start (its output is
written atomically, so a half-run leaves nothing behind).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .models import TERMINAL_STATUSES

log = logging.getLogger("skyseal.service.jobs")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL,
    seed INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    result TEXT,
    reason TEXT,
    video TEXT,
    options TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
"""


class QueueFull(Exception):
    """The queue holds ``queue_size`` unfinished jobs already."""


@dataclass(frozen=True)
class Job:
    id: str
    key_id: str
    status: str
    prompt: str
    seed: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict | None
    reason: str | None
    video: str | None  # file name under the store's video folder, once delivered
    options: dict | None = None  # per-job pipeline options (GenerateOptions, unset ones left out)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class JobStore:
    """Jobs table plus the folder of delivered videos; safe to share between threads."""

    def __init__(self, db_path: str | Path, video_dir: str | Path) -> None:
        self.video_dir = Path(video_dir)
        self.video_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(Path(db_path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(jobs)")}
        if "options" not in columns:  # a database from before per-job options
            self._conn.execute("ALTER TABLE jobs ADD COLUMN options TEXT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def requeue_interrupted(self) -> int:
        with self._lock, self._conn:
            return self._conn.execute("UPDATE jobs SET status = 'queued', started_at = NULL WHERE status = 'running'").rowcount

    def submit(self, *, key_id: str, prompt: str, seed: int | None, limit: int, options: dict | None = None) -> Job:
        job_id = uuid.uuid4().hex
        with self._lock, self._conn:
            pending = self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]
            if pending >= limit:
                raise QueueFull
            self._conn.execute(
                "INSERT INTO jobs (id, key_id, status, prompt, seed, created_at, options) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, key_id, prompt, seed, _now(), json.dumps(options or {})))
        return self.get(job_id)

    def claim_next(self) -> Job | None:
        """Mark the oldest queued job running and return it (None when nothing waits)."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1").fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", (_now(), row[0]))
        return self.get(row[0])

    def finish(self, job_id: str, *, status: str, result: dict | None, reason: str | None, video: str | None) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, result = ?, reason = ?, video = ? WHERE id = ?",
                (status, _now(), json.dumps(result) if result is not None else None, reason, video, job_id),
            )

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            cur = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
            names = [d[0] for d in cur.description]
            row = cur.fetchone()
        if row is None:
            return None
        data = dict(zip(names, row))
        data["result"] = json.loads(data["result"]) if data["result"] else None
        data["options"] = json.loads(data["options"]) if data.get("options") else {}
        return Job(**data)

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return dict(rows)

    def video_path(self, job: Job) -> Path | None:
        return self.video_dir / job.video if job.video else None


class JobRunner:
    """``workers`` threads, each with its own pipeline, taking jobs from the store in order.

    ``make_pipeline`` is called once per thread: pipeline components are not
    promised to be thread-safe, so no two threads share one.
    """

    def __init__(self, store: JobStore, make_pipeline: Callable[[], object], *, workers: int,
                 on_finish: Callable[[Job], None] | None = None) -> None:
        self.store = store
        self.make_pipeline = make_pipeline
        self.workers = workers
        self.on_finish = on_finish
        self._wake = threading.Condition()
        self._stop = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        requeued = self.store.requeue_interrupted()
        if requeued:
            log.info("requeued jobs interrupted by the last stop", extra={"count": requeued})
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"skyseal-job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop taking jobs; a job already running finishes (bounded by ``timeout``)."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def _work(self) -> None:
        pipeline = None
        try:
            while True:
                with self._wake:
                    if self._stop:
                        return
                    job = self.store.claim_next()
                    if job is None:
                        self._wake.wait(timeout=1.0)
                        continue
                if pipeline is None:
                    try:
                        pipeline = self.make_pipeline()
                    except Exception as exc:  # noqa: BLE001 - bad config fails the job, not the worker
                        log.exception("cannot build the pipeline", extra={"job_id": job.id})
                        self.store.finish(job.id, status="failed", result=None, reason=_public_reason(exc), video=None)
                        continue
                self._run(pipeline, job)
        finally:
            if pipeline is not None and hasattr(pipeline, "close"):
                pipeline.close()

    def _run(self, pipeline, job: Job) -> None:
        target = self.store.video_dir / f"{job.id}.mp4"
        try:
            result = pipeline.run(job.prompt, output=target, seed=job.seed, **(job.options or {}))
        except Exception as exc:  # noqa: BLE001 - a failed job is recorded, the worker lives on
            log.exception("job failed", extra={"job_id": job.id})
            self.store.finish(job.id, status="failed", result=None, reason=_public_reason(exc), video=None)
        else:
            data = result.to_dict()
            data.pop("path", None)  # a server path is nobody's business
            video = target.name if result.status == "delivered" else None
            reason = None if result.status == "delivered" else result.reason
            self.store.finish(job.id, status=result.status, result=data, reason=reason, video=video)
        if self.on_finish is not None:
            finished = self.store.get(job.id)
            if finished is not None:
                self.on_finish(finished)


def _public_reason(exc: Exception) -> str:
    # The safety stage refuses prompts it cannot check with a ValueError written for people; say it.
    if isinstance(exc, ValueError) and type(exc).__module__.split(".")[0] == "safety":
        return f"prompt refused: {str(exc).splitlines()[0][:200]}"
    # Other stages' messages can quote server paths (keys, certificates, folders): name the kind only.
    return f"generation failed ({type(exc).__name__}); see the server log"
