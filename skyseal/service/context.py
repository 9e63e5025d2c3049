"""Everything the routes share, built once per app from the settings."""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..config import Settings
from ..errors import ConfigError
from .auth import RateLimits
from .jobs import Job, JobRunner, JobStore
from .keys import KeyStore
from .observability import Metrics


def service_dir(settings: Settings) -> Path:
    return settings.home / "service"


def service_db(settings: Settings) -> Path:
    return service_dir(settings) / "service.sqlite"


def hold_service_lock(base: Path) -> int:
    """An exclusive lock on ``base``/service.lock, held (as the returned descriptor) while the service runs.

    A second service on the same home would clear the first one's uploads and run its unfinished jobs a
    second time; it stops here instead, with a message naming the process that holds the home."""
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / "service.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(f"another skyseal service (pid {holder}) is running on the home {base.parent}: run one service "
                          "process per home, or give this one its own SKYSEAL_HOME") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode("ascii"))
    return fd


@dataclass
class ServiceContext:
    settings: Settings
    keys: KeyStore
    jobs: JobStore
    runner: JobRunner
    metrics: Metrics
    rate_limits: RateLimits
    upload_dir: Path
    detect_limiter: anyio.CapacityLimiter | None = None
    detect_waiting: int = 0
    _shared: dict | None = None  # prompt filter, ledger, watermarker for request-time work
    _lock_fd: int | None = None  # hold_service_lock's, released by close()

    @classmethod
    def build(cls, settings: Settings) -> "ServiceContext":
        base = service_dir(settings)
        lock_fd = hold_service_lock(base)  # before the uploads of a running service could be cleared
        try:
            return cls._build(settings, base, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def _build(cls, settings: Settings, base: Path, lock_fd: int) -> "ServiceContext":
        from ..pipeline import Pipeline

        upload_dir = base / "uploads"
        # Uploads left by a crash are nobody's: clear them before serving.
        shutil.rmtree(upload_dir, ignore_errors=True)
        upload_dir.mkdir(parents=True, exist_ok=True)
        upload_dir.chmod(0o700)
        metrics = Metrics()
        jobs = JobStore(service_db(settings), base / "videos")

        def finished(job: Job) -> None:
            metrics.jobs_finished.labels(job.status).inc()

        runner = JobRunner(jobs, lambda: Pipeline.from_settings(settings), workers=settings.service.workers, on_finish=finished)
        return cls(settings=settings, keys=KeyStore(service_db(settings)), jobs=jobs, runner=runner, metrics=metrics,
                   rate_limits=RateLimits(settings.service.default_rate_per_minute), upload_dir=upload_dir, _lock_fd=lock_fd)

    def shared(self) -> dict:
        """Request-time components, built on first use; each one is safe to share (see comments)."""
        if self._shared is None:
            from provenance import Ledger

            from ..components import build_prompt_filter, build_watermarker
            from ..signing import signing_setup

            # The Ledger guards its connection with a lock and the watermarker holds no state between
            # calls, so requests share them.  Prompt-filter layers may hold models that are not promised
            # to be thread-safe: callers take "prompt_filter_lock".  signing_setup creates the dev CA
            # when it is used, so the trust anchors hold its root from the first request on.
            self._shared = {
                "prompt_filter": build_prompt_filter(self.settings),
                "prompt_filter_lock": threading.Lock(),
                "ledger": Ledger(self.settings.ledger_location),
                "watermarker": build_watermarker(self.settings.provenance),
                "trust_anchors_pem": signing_setup(self.settings).trust_anchors_pem,
            }
        return self._shared

    def start(self) -> None:
        self.detect_limiter = anyio.CapacityLimiter(self.settings.service.detect_concurrency)
        shared = self.shared()
        # Prompt-filter layers load their models on first use (once per process): pay that before serving,
        # not inside the first client's request.
        with shared["prompt_filter_lock"]:
            shared["prompt_filter"].check("a red ball")
        self.runner.start()

    def close(self) -> None:
        self.runner.stop()
        if self._shared is not None:
            self._shared["ledger"].close()
        self.jobs.close()
        self.keys.close()
        shutil.rmtree(self.upload_dir, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None
