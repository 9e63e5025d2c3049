"""Everything the routes share, built once per app from the settings."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..config import Settings
from .auth import RateLimits
from .jobs import Job, JobRunner, JobStore
from .keys import KeyStore
from .observability import Metrics


def service_dir(settings: Settings) -> Path:
    return settings.home / "service"


def service_db(settings: Settings) -> Path:
    return service_dir(settings) / "service.sqlite"


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

    @classmethod
    def build(cls, settings: Settings) -> "ServiceContext":
        from ..pipeline import Pipeline

        base = service_dir(settings)
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
                   rate_limits=RateLimits(settings.service.default_rate_per_minute), upload_dir=upload_dir)

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
