"""Detection over a corpus on Ray Data: a local cluster by default, or a real one by address.

Each Ray worker builds its own detector (watermarker, ledger handle, trust
anchors) once, from the same settings as the caller, and maps batches of file
paths to verdict records.  Records come back in input order and are the same
records the single-process ``skyseal.batch`` produces, error records included.
For a cluster, the files and the ledger must be reachable from every node: a
shared filesystem and a PostgreSQL ``provenance.ledger_url``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .config import Settings


class _DetectBatch:
    """A Ray Data actor: one Detector per worker process, reused for every batch."""

    def __init__(self, settings: Settings, max_frames: int) -> None:
        from .batch import Detector

        self.detector = Detector.from_settings(settings, max_frames=max_frames)

    def __call__(self, batch: dict) -> dict:
        records = [json.dumps(self.detector.record(p), default=str) for p in batch["path"]]
        return {"index": list(batch["index"]), "record": records}


def detect_with_ray(paths: Sequence[str | Path], settings: Settings, *, address: str | None = None, num_cpus: int | None = None,
                    workers: int | None = None, batch_size: int = 8, max_frames: int = 64) -> list[dict]:
    """Verdict records for ``paths`` computed on Ray; starts (and stops) a local cluster unless one is running or named."""
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        started = True
    try:
        items = [{"index": i, "path": str(p)} for i, p in enumerate(paths)]
        if not items:
            return []
        n_workers = workers or max(1, int(ray.available_resources().get("CPU", 1)))
        ds = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * n_workers))
        # The Settings object travels pickled, not as JSON: JSON would mask the watermark key.
        out = ds.map_batches(_DetectBatch, fn_constructor_kwargs={"settings": settings, "max_frames": max_frames},
                             batch_size=batch_size, concurrency=n_workers, num_cpus=1)
        rows = out.take_all()
    finally:
        if started:
            ray.shutdown()
    return [json.loads(r["record"]) for r in sorted(rows, key=lambda r: int(r["index"]))]


__all__ = ["detect_with_ray"]
