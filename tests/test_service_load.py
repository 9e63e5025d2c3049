"""A bounded load test on loopback: concurrent generate and detect requests, every job and result accounted for."""

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from service_support import PROMPT, LiveServer, make_key, submit, wait_job

from skyseal.config import ServiceSettings

GENERATES = 6
DETECTS = 8


def test_concurrent_generate_and_detect_lose_nothing(generated):
    settings, result = generated
    # A queue smaller than the burst, so some submissions meet 429 and must retry.
    settings = settings.model_copy(update={"service": ServiceSettings(workers=2, queue_size=3, detect_concurrency=2,
                                                                      retry_after_seconds=1, default_rate_per_minute=10_000)})
    clip = result.path.read_bytes()
    with LiveServer(settings) as live:
        headers = {"X-API-Key": make_key(settings, "generate", "detect")}
        started = time.monotonic()

        def one_generate(i):
            accepted = submit(live.url, headers, f"{PROMPT}, take {i}", seed=100 + i)
            job = wait_job(requests.get, f"{live.url}{accepted['url']}", headers, timeout=240)
            video = requests.get(f"{live.url}{job['video_url']}", headers=headers, timeout=60).content
            return job, video

        def one_detect(i):
            for _ in range(120):
                r = requests.post(f"{live.url}/v1/detect", files={"file": (f"c{i}.mp4", clip)}, headers=headers, timeout=120)
                if r.status_code != 429:
                    return r
                time.sleep(float(r.headers["Retry-After"]))
            raise AssertionError("detect never got through")

        with ThreadPoolExecutor(max_workers=GENERATES + DETECTS) as pool:
            gens = [pool.submit(one_generate, i) for i in range(GENERATES)]
            dets = [pool.submit(one_detect, i) for i in range(DETECTS)]
            jobs = [f.result(timeout=300) for f in gens]
            verdicts = [f.result(timeout=300) for f in dets]
        elapsed = time.monotonic() - started

        assert all(r.status_code == 200 for r in verdicts), [r.text for r in verdicts if r.status_code != 200]
        assert {r.json()["label"] for r in verdicts} == {"generated_here_intact"}
        assert sorted(r.json()["file"] for r in verdicts) == sorted(f"c{i}.mp4" for i in range(DETECTS))

        assert [j["status"] for j, _ in jobs] == ["delivered"] * GENERATES
        assert len({j["id"] for j, _ in jobs}) == GENERATES and len({j["payload"] for j, _ in jobs}) == GENERATES
        for job, video in jobs:
            assert hashlib.sha256(video).hexdigest() == job["sha256"]

        health = requests.get(f"{live.url}/healthz", timeout=10).json()
        assert health["queued"] == 0 and health["running"] == 0
        metrics = requests.get(f"{live.url}/metrics", timeout=10).text
        assert f'skyseal_jobs_finished_total{{status="delivered"}} {float(GENERATES)}' in metrics
        rejected = next(line for line in metrics.splitlines() if line.startswith("skyseal_jobs_rejected_total "))
        assert float(rejected.split()[1]) >= 1  # the burst met a full queue, and every job still got through
        assert live.app.state.ctx.upload_dir.exists() and not any(live.app.state.ctx.upload_dir.iterdir())
        assert elapsed < 280
