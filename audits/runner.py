"""Run an audit suite through any sampler, cached per sample, into one tidy DataFrame.

The runner knows nothing of the pipeline: it takes a *factory* that builds a
sampler, a callable ``(prompt, seed) -> dict`` of flat results.  The
composition root (skyseal) passes one that drives the real filter, generator
and classifiers; tests pass plain functions.  A factory, not the sampler
itself, because Ray workers each build their own (models and database handles
do not pickle).

Each finished sample is written at once to ``cache_dir/<key>.json``
(atomically), so an interrupted run resumes where it stopped and a re-run
skips what is done.  The key covers the prompt, the seed and a fingerprint of
the sampler's configuration, so changing the model or policy re-runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .suites import Suite

Sampler = Callable[[str, int], dict]
SamplerFactory = Callable[[], Sampler]
Progress = Callable[[int, int], None]  # (finished, total)


@dataclass(frozen=True)
class Sample:
    prompt: str
    template: str
    attribute: str
    descriptor: str
    subject: str
    group: str
    sample: int  # index among this prompt's samples
    seed: int

    def key(self, fingerprint: str = "") -> str:
        return hashlib.sha256(f"{fingerprint}\x00{self.prompt}\x00{self.seed}".encode()).hexdigest()[:24]


def sample_seed(base_seed: int, prompt: str, index: int) -> int:
    """A stable 31-bit seed per (suite seed, prompt, sample index): counterfactual twins share none by accident,
    and adding a prompt to a suite leaves every other sample's seed unchanged."""
    digest = hashlib.sha256(f"{base_seed}\x00{prompt}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def plan_samples(suite: Suite, samples_per_prompt: int | None = None) -> list[Sample]:
    n = samples_per_prompt or suite.samples_per_prompt
    return [
        Sample(p.prompt, p.template, p.attribute, p.descriptor, p.subject, p.group, i, sample_seed(suite.base_seed, p.prompt, i))
        for p in suite.prompts
        for i in range(n)
    ]


def _write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_cached(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # a torn or missing record is simply redone


@dataclass(frozen=True)
class RunStats:
    total: int
    cached: int
    computed: int


def run_samples(
    samples: Iterable[Sample],
    make_sampler: SamplerFactory,
    cache_dir: str | Path,
    *,
    fingerprint: str = "",
    use_ray: bool = False,
    num_cpus: int = 2,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, RunStats]:
    """Results of every sample (cached or computed now), one row each, in plan order."""
    samples = list(samples)
    cache = Path(cache_dir)
    records: dict[int, dict] = {}
    todo: list[int] = []
    for i, s in enumerate(samples):
        hit = _load_cached(cache / f"{s.key(fingerprint)}.json")
        if hit is not None:
            records[i] = hit
        else:
            todo.append(i)
    cached = len(records)
    done = [cached]

    def finish(i: int, result: dict) -> None:
        record = {**asdict(samples[i]), **result}
        _write_json_atomic(cache / f"{samples[i].key(fingerprint)}.json", record)
        records[i] = record
        done[0] += 1
        if progress:
            progress(done[0], len(samples))

    if progress:
        progress(cached, len(samples))
    if todo and use_ray:
        _run_on_ray(samples, todo, make_sampler, num_cpus, finish)
    elif todo:
        sampler = make_sampler()
        for i in todo:
            finish(i, sampler(samples[i].prompt, samples[i].seed))
    frame = pd.DataFrame([records[i] for i in range(len(samples))])
    return frame, RunStats(len(samples), cached, len(todo))


def _run_on_ray(samples: list[Sample], todo: list[int], make_sampler: SamplerFactory, num_cpus: int,
                finish: Callable[[int, dict], None]) -> None:
    import ray
    from ray.util import ActorPool

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        @ray.remote(num_cpus=1)
        class Worker:
            def __init__(self, factory: SamplerFactory) -> None:
                self.sampler = factory()

            def run(self, i: int, prompt: str, seed: int) -> tuple[int, dict]:
                return i, self.sampler(prompt, seed)

        workers = [Worker.remote(make_sampler) for _ in range(max(1, min(num_cpus, len(todo))))]
        pool = ActorPool(workers)
        # Results are written to the cache as they arrive, so a killed run keeps its finished samples.
        for i, result in pool.map_unordered(lambda w, i: w.run.remote(i, samples[i].prompt, samples[i].seed), todo):
            finish(i, result)
    finally:
        if started_here:
            ray.shutdown()


def write_frame_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Parquet, written beside the target and renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["RunStats", "Sample", "plan_samples", "run_samples", "sample_seed", "write_frame_atomic"]
