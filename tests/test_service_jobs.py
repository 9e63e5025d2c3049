"""Generate jobs through the service: real pipeline, real signed MP4s, a bounded queue, survival across restarts."""

import hashlib
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient
from service_support import PROMPT, make_key, service_settings, wait_job

from skyseal.service import create_app
from skyseal.service.context import service_db


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("svc-jobs") / "home"


def test_generate_stream_detect_and_audit_one_video(home):
    settings = service_settings(home, workers=1, queue_size=4)
    gen = {"X-API-Key": make_key(settings, "generate")}
    det = {"X-API-Key": make_key(settings, "detect")}
    aud = {"X-API-Key": make_key(settings, "audit")}
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/generate", json={"prompt": PROMPT, "seed": 5, "options": {"num_frames": 8}}, headers=gen)
        assert r.status_code == 202 and r.headers["Location"] == r.json()["url"]
        job = wait_job(c.get, r.json()["url"], gen)
        assert job["status"] == "delivered", job
        assert job["prompt_decision"]["action"] == "allow" and job["manifest"]["state"] == "Trusted"
        assert job["seed"] == 5 and len(job["payload"]) == 16 and job["options"] == {"num_frames": 8}

        video = c.get(job["video_url"], headers=gen)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert hashlib.sha256(video.content).hexdigest() == job["sha256"]
        assert video.content[4:8] == b"ftyp"

        verdict = c.post("/v1/detect", files={"file": ("download.mp4", video.content)}, headers=det).json()
        assert verdict["label"] == "generated_here_intact"
        assert verdict["watermark"]["payload"] == job["payload"] and verdict["ledger"]["kind"] == "sha256"
        assert verdict["media"]["frames_read"] == 8  # the per-job option, not the server's 16

        record = c.get(f"/v1/ledger/{job['payload']}", headers=aud)
        assert record.status_code == 200 and record.json()["prompt"] == PROMPT and record.json()["sha256"] == job["sha256"]

        # A job is its owner's: another generate key sees nothing there.
        other = {"X-API-Key": make_key(settings, "generate")}
        assert c.get(r.json()["url"], headers=other).status_code == 404
        assert c.get(job["video_url"], headers=other).status_code == 404

        metrics = c.get("/metrics").text
        assert 'skyseal_jobs_finished_total{status="delivered"}' in metrics
        assert 'skyseal_detect_verdicts_total{label="generated_here_intact"} 1.0' in metrics


def test_blocked_prompt_makes_a_blocked_job_without_video(home):
    settings = service_settings(home, workers=1)
    gen = {"X-API-Key": make_key(settings, "generate")}
    with TestClient(create_app(settings)) as c:
        decision = c.post("/v1/moderate/prompt", json={"prompt": "a naked person on a beach"}, headers=gen).json()
        assert decision["action"] == "block" and decision["reasons"]
        r = c.post("/v1/generate", json={"prompt": "a naked person on a beach"}, headers=gen)
        job = wait_job(c.get, r.json()["url"], gen)
        assert job["status"] == "blocked" and job["video_url"] is None and "sexual" in job["reason"]
        v = c.get(f"{r.json()['url']}/video", headers=gen)
        assert v.status_code == 409 and "blocked" in v.json()["message"]


def test_full_queue_is_429_with_retry_after(tmp_path):
    settings = service_settings(tmp_path / "home", workers=1, queue_size=1, retry_after_seconds=7)
    gen = {"X-API-Key": make_key(settings, "generate")}
    with TestClient(create_app(settings)) as c:
        first = c.post("/v1/generate", json={"prompt": PROMPT}, headers=gen)
        assert first.status_code == 202
        full = c.post("/v1/generate", json={"prompt": PROMPT}, headers=gen)
        assert full.status_code == 429 and full.headers["Retry-After"] == "7" and full.json()["error"] == "queue_full"
        assert wait_job(c.get, first.json()["url"], gen)["status"] == "delivered"
        again = c.post("/v1/generate", json={"prompt": PROMPT}, headers=gen)  # room again once it finished
        assert again.status_code == 202
        assert wait_job(c.get, again.json()["url"], gen)["status"] == "delivered"


def test_restart_keeps_finished_jobs_and_resumes_unfinished_ones(tmp_path):
    settings = service_settings(tmp_path / "home", workers=1, queue_size=8)
    gen = {"X-API-Key": make_key(settings, "generate")}
    with TestClient(create_app(settings)) as c:
        urls = [c.post("/v1/generate", json={"prompt": PROMPT, "seed": s}, headers=gen).json()["url"] for s in (1, 2, 3)]
        first = wait_job(c.get, urls[0], gen)
        assert first["status"] == "delivered"
        first_video = c.get(first["video_url"], headers=gen).content
    # The stop let the running job finish and left the rest queued; pretend a crash cut the last one mid-run.
    ids = [u.rsplit("/", 1)[1] for u in urls]
    with sqlite3.connect(service_db(settings)) as db:
        statuses = dict(db.execute("SELECT id, status FROM jobs").fetchall())
        assert statuses[ids[0]] == "delivered" and "queued" in (statuses[ids[1]], statuses[ids[2]])
        db.execute("UPDATE jobs SET status = 'running' WHERE id = ? AND status = 'queued'", (ids[2],))

    with TestClient(create_app(settings)) as c:
        again = c.get(urls[0], headers=gen).json()
        assert again == first
        assert c.get(first["video_url"], headers=gen).content == first_video
        rest = [wait_job(c.get, u, gen) for u in urls[1:]]
        assert [j["status"] for j in rest] == ["delivered", "delivered"]
        assert len({first["payload"], *(j["payload"] for j in rest)}) == 3


def test_a_pipeline_that_cannot_be_built_fails_jobs_without_killing_the_worker(tmp_path):
    from skyseal.service.jobs import JobRunner, JobStore

    store = JobStore(tmp_path / "jobs.sqlite", tmp_path / "videos")
    builds = []

    def broken_then_real():
        builds.append(1)
        if len(builds) == 1:
            raise RuntimeError(f"cannot read key at {tmp_path}/signer.key")
        from skyseal.config import Settings
        from skyseal.pipeline import Pipeline

        return Pipeline.from_settings(Settings(home=tmp_path / "home"))

    runner = JobRunner(store, broken_then_real, workers=1)
    runner.start()
    try:
        first = store.submit(key_id="k", prompt=PROMPT, seed=1, limit=4)
        second = store.submit(key_id="k", prompt=PROMPT, seed=2, limit=4)
        runner.notify()
        deadline = time.monotonic() + 120
        while not (store.get(second.id).finished and store.get(first.id).finished):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        runner.stop()
        store.close()
    store = JobStore(tmp_path / "jobs.sqlite", tmp_path / "videos")
    failed, done = store.get(first.id), store.get(second.id)
    assert failed.status == "failed" and "RuntimeError" in failed.reason and str(tmp_path) not in failed.reason
    assert done.status == "delivered" and (tmp_path / "videos" / done.video).is_file()
    store.close()
