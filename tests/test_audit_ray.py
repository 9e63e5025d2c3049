"""The runner fans samples out over local Ray workers, writes each result as it lands, and resumes serially."""

import pytest

from audits import load_suite
from audits.runner import plan_samples, run_samples

ray = pytest.importorskip("ray")


def test_ray_workers_share_the_work_and_the_cache(tmp_path):
    samples = plan_samples(load_suite("smoke"))

    def factory():
        # Built inside each worker, as a real sampler (models, database handles) must be.
        import os

        pid = os.getpid()
        return lambda prompt, seed: {"refused": "gay" in prompt, "seed_echo": seed, "worker": pid}

    seen = []
    frame, stats = run_samples(samples, factory, tmp_path / "cache", fingerprint="t", use_ray=True, num_cpus=2,
                               progress=lambda done, total: seen.append((done, total)))
    assert stats.computed == len(samples) == len(frame)
    assert (frame["seed_echo"] == frame["seed"]).all()
    assert frame["worker"].nunique() == 2
    assert frame.loc[frame["refused"], "descriptor"].unique().tolist() == ["gay"]
    assert seen[-1] == (len(samples), len(samples))
    assert not ray.is_initialized()  # the runner shuts down the Ray it started

    # Resuming without Ray reads every sample back from the cache and never builds a sampler.
    def must_not_build():
        raise AssertionError("everything was cached")

    again, stats = run_samples(samples, must_not_build, tmp_path / "cache", fingerprint="t")
    assert stats.cached == len(samples) and stats.computed == 0
    assert again.drop(columns="worker").equals(frame.drop(columns="worker"))
